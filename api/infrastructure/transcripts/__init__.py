"""Conversation transcripts: the conversation read for one (messages, notes, status
changes) and the PDF writer."""
