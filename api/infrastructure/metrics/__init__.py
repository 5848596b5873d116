"""Monitoring adapters: job outcome counters and queue depths, in Redis."""
