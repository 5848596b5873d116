"""Test support shared by several test modules (none of it is a test).

- `settings`: settings pointing at the tests' servers; the admin's credentials.
- `database`: a test-only tenant-owned document, tenants and audit actions in the database.
- `app`: the app in-process (`serve`, `AppClient`), problem checks, captured logs.
- `onboarding`, `people`: tenants with owners, users, roles and sign-ins, for e2e tests.
- `files`: uploads and signed URLs; `ai_stack`: Parley over TCP with the fake LLM.
- `identity`: builders of roles, users and principals, and a `World` of fakes (unit).
- Servers: `asgi_server`, `fake_llm` (Ollama's and OpenAI's wire formats),
  `storage_servers` (Azurite and moto, a pytest plugin), `smtp` (aiosmtpd), and
  `workers` (Celery worker, beat and Flower processes).
"""
