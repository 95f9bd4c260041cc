"""The API key scopes: submit (POST documents), read (records, copies, list), delete, metrics
(scrape /metrics)."""

SCOPES = ("submit", "read", "delete", "metrics")
