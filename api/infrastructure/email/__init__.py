"""Email adapters: Jinja rendering, SMTP delivery (fastapi-mail), and a development outbox."""
