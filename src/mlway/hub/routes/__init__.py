"""The hub's HTTP routes, one module per resource."""
