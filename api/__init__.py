"""Parley: an open, multi-tenant backend for SaaS products that talk to their customers."""

__version__ = "0.1.0"
