"""Analytics routes: the tenant dashboard."""
