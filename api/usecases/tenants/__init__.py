"""The tenants context's use cases: one module per use case, shared rules in `rules.py`.

Platform administration (create, list, get, update, change status, impersonate) is run by
a `PlatformCaller`: a platform admin's `Principal` over HTTP, or the `OPERATOR` at the
console (`python -m api.cli`). Both run the same use cases; see `rules.py`.
"""
