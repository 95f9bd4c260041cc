"""The API key scopes: submit (POST documents), read (records, copies, list), delete, metrics
(scrape /metrics), review (the review station: see and finish documents that need a person)."""

SCOPES = ("submit", "read", "delete", "metrics", "review")
