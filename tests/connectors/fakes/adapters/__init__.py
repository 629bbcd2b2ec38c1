"""One module per exchange, ``ADAPTERS = {"<venue name>": VenueAdapter}``: what the
venue contract (tests/connectors/test_venue_contract.py) needs to drive that
exchange's venues against its fake (see tests/connectors/fakes/adapter.py)."""
