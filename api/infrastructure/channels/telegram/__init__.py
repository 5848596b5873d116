"""Telegram's Bot API adapter (python-telegram-bot)."""
