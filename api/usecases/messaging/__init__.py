"""Messaging use cases: channels (connect, read, change, disconnect)."""
