"""The REST service over the redaction pipeline: `create_app` in api.app, CLI in api.commands."""
