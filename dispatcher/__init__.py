"""The dispatcher: the routing core and the adapters around it."""
