"""Sentry protocol ingest: the official Sentry SDKs report to Log Center with only their DSN changed.

`routes` serves `/api/<id>/envelope/` and `/api/<id>/store/`; `decoding` and `envelope` read the body as a
stream under size caps; `auth` checks the DSN key; `event` maps a Sentry event onto the internal `Report`
that the REST path produces too, so both share the group-commit writer. The facts behind the choices:
shared/reference/sentry-protocol.md.
"""
