"""Analytics use cases: the tenant dashboard."""
