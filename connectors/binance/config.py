"""Binance endpoints and documented websocket limits.

Spot: https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams
  - a connection is valid for 24 hours; the server pings every 20 s;
  - 5 incoming messages per second per connection (pings, pongs, JSON requests);
  - at most 1024 streams per connection; 300 connections per 5 minutes per IP.
USDⓈ-M: https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams
  - a connection is valid for 24 hours; the server pings every 3 minutes;
  - 10 incoming messages per second per connection;
  - at most 1024 streams per connection (the connection-attempt limit is not
    documented for futures: we apply spot's 300 per 5 minutes).
Subscribe-message pacing stays below the limit (pongs count as messages too).
"""

from __future__ import annotations

from connectors.base.venue import VenueLimits

SPOT_WS_URL = "wss://stream.binance.com:9443"
SPOT_REST_URL = "https://api.binance.com"
USDM_WS_URL = "wss://fstream.binance.com"
USDM_REST_URL = "https://fapi.binance.com"

DAY_S = 24 * 3600.0

SPOT_LIMITS = VenueLimits(
    streams_per_connection=1024,
    client_msgs_per_second=4.0,  # documented 5/s; one left for pongs
    streams_per_subscribe=200,
    connections_per_window=300,
    connection_window_s=300.0,
    connection_lifetime_s=DAY_S,
    rotate_margin_s=600.0,
    stale_after_s=30.0,  # klines arrive every ~2 s even without trades
)

USDM_LIMITS = VenueLimits(
    streams_per_connection=1024,
    client_msgs_per_second=8.0,  # documented 10/s
    streams_per_subscribe=200,
    connections_per_window=300,
    connection_window_s=300.0,
    connection_lifetime_s=DAY_S,
    rotate_margin_s=600.0,
    stale_after_s=30.0,
)
