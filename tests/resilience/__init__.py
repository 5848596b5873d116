"""Resilience: servers killed under load (run on demand: `scripts/test -m resilience`)."""
