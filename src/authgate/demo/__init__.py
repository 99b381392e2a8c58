"""``authgate demo``: the gateway, the development identity provider and a sample panel in one
process, configured for each other, so the whole system can be tried with nothing registered."""
