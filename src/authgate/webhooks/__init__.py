"""Signed webhooks (Standard Webhooks): endpoints, signing, and the outbox channel for them."""
