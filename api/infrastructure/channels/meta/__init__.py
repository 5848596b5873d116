"""Messenger and Instagram Direct (Meta's Messenger Platform over the Graph API): the Send
API client, webhook parsing, and Meta's signed requests (the data deletion callback)."""
