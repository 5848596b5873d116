"""The dashboard's figures, computed by MongoDB aggregation within the current tenant."""
