"""The watcher's defaults, in one place: settings, config, claim context and --help read them."""

POLL_INTERVAL = 5.0  # seconds between full rescans (watchdog events wake the loop sooner)
# A copy over a slow share can pause for seconds; raise this for such shares.
STABLE_SECONDS = 3.0
MAX_ATTEMPTS = 5  # deaths while processing one file before it is set aside in failed/
