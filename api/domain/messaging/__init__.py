"""Messaging: channels (a connected WhatsApp number today; Telegram, Instagram and
Messenger later), the provider-neutral port each provider's adapter implements, and the
typed content and events that cross it. Nothing here names a provider's wire format."""
