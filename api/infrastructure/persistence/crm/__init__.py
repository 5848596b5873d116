"""Persistence of the CRM: departments, leads, meetings, tickets, callback requests."""
