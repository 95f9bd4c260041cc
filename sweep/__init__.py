"""The archive sweep: a door into the redaction core (`redactor sweep`)."""
