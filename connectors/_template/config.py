"""Endpoints and documented limits of the venue. Cite the exchange's doc page
for every number: these limits are what the sharder enforces."""

from __future__ import annotations

from connectors.base.venue import VenueLimits

WS_URL = "wss://stream.template.invalid"
REST_URL = "https://api.template.invalid"

LIMITS = VenueLimits(
    streams_per_connection=100,     # REQUIRED: max topics per connection
    client_msgs_per_second=5.0,     # REQUIRED: max client messages per second
    streams_per_subscribe=10,       # REQUIRED: max topics per subscribe message
    connections_per_window=100,     # REQUIRED: new connections per window (per IP)
    connection_window_s=300.0,
    connection_lifetime_s=24 * 3600.0,  # forced disconnect; rotate before it
    rotate_margin_s=600.0,
    stale_after_s=30.0,             # a few expected intervals without data
)
