"""Wire schemas of the flavors (wsserver/flavors): each service's parameters and answers."""
