"""Bybit v5 endpoints and documented websocket limits.

https://bybit-exchange.github.io/docs/v5/ws/connect
  - public endpoints ``wss://stream.bybit.com/v5/public/{spot,linear}``;
  - send ``{"op": "ping"}`` every 20 s; without ping/pong or data the server
    cuts the connection after 10 minutes (no fixed lifetime for public
    streams: we rotate daily anyway);
  - spot accepts at most 10 args per subscribe request (we use 10 for both);
  - linear: the args of one connection may total at most 21,000 characters;
  - do not open more than 500 connections in 5 minutes per IP.
The number of topics per connection is not capped for public streams beyond
the args length; 200 topics (50 symbols x 4 channels, ~4,000 characters of
args) keeps a connection well inside it and bounds what one drop loses.
https://bybit-exchange.github.io/docs/v5/websocket/public/kline (``confirm``)
"""

from __future__ import annotations

from connectors.base.venue import VenueLimits

SPOT_WS_URL = "wss://stream.bybit.com/v5/public/spot"
LINEAR_WS_URL = "wss://stream.bybit.com/v5/public/linear"
REST_URL = "https://api.bybit.com"

DAY_S = 24 * 3600.0
PING_INTERVAL_S = 20.0

_LIMITS = VenueLimits(
    streams_per_connection=200,
    client_msgs_per_second=5.0,  # not documented for public streams; pings share it
    streams_per_subscribe=10,
    connections_per_window=500,
    connection_window_s=300.0,
    connection_lifetime_s=DAY_S,
    rotate_margin_s=600.0,
    stale_after_s=30.0,  # kline updates arrive every ~1-2 s even without trades
)
SPOT_LIMITS = _LIMITS
LINEAR_LIMITS = _LIMITS
