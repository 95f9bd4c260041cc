"""The watched folder: a door into the redaction core (`redactor watch`)."""
