"""KuCoin endpoints and websocket limits.

Spot (classic): https://www.kucoin.com/docs-new/websocket-api/base-info/introduction
Futures: https://www.kucoin.com/docs-new/websocket-api/base-info/introduction-uta
  - a connection needs a token: ``POST /api/v1/bullet-public`` on the REST
    host returns ``token`` and ``instanceServers[].endpoint`` /
    ``pingInterval``; connect to ``<endpoint>?token=..&connectId=..``; the
    server greets with ``{"type": "welcome"}``;
  - keepalive: the client sends ``{"id", "type": "ping"}`` within
    ``pingInterval`` (18 s), the server answers ``pong``;
  - "Websocket rate limit": at most 100 uplink messages per 10 seconds per
    connection, 100 topics in one subscribe message, 30 connection attempts
    per minute, and a cap of topics per connection (300 on classic spot;
    applied to futures too).
KuCoin documents no forced connection lifetime; we rotate every 24 h anyway
(gap-free) so a silent server-side limit never costs data.
"""

from __future__ import annotations

from connectors.base.venue import VenueLimits

#: "Use the endpoint from bullet-public" (a WS URL setting other than this overrides it).
BULLET_ENDPOINT = "bullet:"
SPOT_REST_URL = "https://api.kucoin.com"
FUTURES_REST_URL = "https://api-futures.kucoin.com"

DAY_S = 24 * 3600.0
PING_INTERVAL_S = 18.0

SPOT_LIMITS = VenueLimits(
    streams_per_connection=300,
    client_msgs_per_second=9.0,  # documented 100 per 10 s; pings share the budget
    streams_per_subscribe=100,
    connections_per_window=30,
    connection_window_s=60.0,
    connection_lifetime_s=DAY_S,
    rotate_margin_s=600.0,
    stale_after_s=45.0,  # candles are pushed on trades only; quiet symbols are slower
)

FUTURES_LIMITS = VenueLimits(
    streams_per_connection=300,
    client_msgs_per_second=9.0,
    streams_per_subscribe=100,
    connections_per_window=30,
    connection_window_s=60.0,
    connection_lifetime_s=DAY_S,
    rotate_margin_s=600.0,
    stale_after_s=45.0,
)
