"""The CRM's routes: leads, meetings, tickets, callback requests, departments,
transcripts."""
