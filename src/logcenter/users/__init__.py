"""People who use the web UI: accounts with a role, password hashes, login sessions."""
