"""Analytics: the tenant's dashboard figures and the ports they are read through."""
