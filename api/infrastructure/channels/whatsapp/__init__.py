"""WhatsApp Cloud API (Meta's Graph API) through `pywa_async`: its client for the calls,
its error classes for Graph's error codes; webhooks parsed here into Parley's events."""
