"""Messenger and Instagram Direct (Meta's Messenger Platform over the Graph API): the Send
API client and webhook parsing."""
