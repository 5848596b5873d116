"""Messaging documents and repositories (channels first)."""
