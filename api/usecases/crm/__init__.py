"""The CRM around the conversations: departments, leads, meetings, tickets, callback
requests."""
