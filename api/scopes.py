"""The API key scopes: submit (POST documents), read (records, copies, list), delete."""

SCOPES = ("submit", "read", "delete")
