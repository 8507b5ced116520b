"""Source maps for browser errors: artifact bundles uploaded by sentry-cli, and minified frames resolved."""
