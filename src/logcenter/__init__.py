"""Log Center: a self-hosted error tracker with human-reviewed automatic bug fixing."""

__version__ = "0.1.0"
