"""The CRM around the conversations: leads, meetings, tickets, callback requests."""
