"""Inbound forge and deployment webhooks: signed, idempotent, matched to bugs exactly."""
