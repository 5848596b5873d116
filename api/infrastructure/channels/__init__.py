"""Messaging provider adapters (the `ChannelGateways` port): WhatsApp Cloud API first."""
