"""Gate.io v4 endpoints and websocket limits.

Spot: https://www.gate.com/docs/developers/apiv4/ws/en/ ("Spot WebSocket v4")
  - server ``wss://api.gateio.ws/ws/v4/``; requests are ``{"time", "id",
    "channel", "event", "payload"}``; ``time`` must be within 60 s of the
    server's clock;
  - ``spot.candlesticks`` takes ONE ``[interval, currency_pair]`` per request
    ("to subscribe to multiple currency pairs ... send multiple subscribe
    requests"); ``spot.trades`` / ``spot.book_ticker`` take a list of pairs;
  - the server pings at the protocol layer; ``spot.ping`` is optional.
USDT futures: https://www.gate.com/docs/developers/futures/ws/en/
  - server ``wss://fx-ws.gateio.ws/v4/ws/usdt``; the same request format;
    ``futures.candlesticks`` also takes one ``[interval, contract]`` per request.

Gate does not publish a per-connection stream cap, a client-message rate or a
connection-attempt limit for public channels, nor a forced connection
lifetime. The numbers below are deliberately conservative choices, not
documented limits: at most 300 subscriptions on one connection, 10 client
messages per second, 20 pairs per list request, 100 new connections per
5 minutes, and a rotation every 24 h so a silent server-side limit never
costs data (rotation is gap-free).
"""

from __future__ import annotations

from connectors.base.venue import VenueLimits

SPOT_WS_URL = "wss://api.gateio.ws"
SPOT_REST_URL = "https://api.gateio.ws"
FUTURES_WS_URL = "wss://fx-ws.gateio.ws"
FUTURES_REST_URL = "https://api.gateio.ws"

#: Path of the websocket endpoint under the base URL.
SPOT_WS_PATH = "/ws/v4/"
FUTURES_WS_PATH = "/v4/ws/usdt"

#: Settlement currency of the perpetuals we stream (Gate's ``{settle}`` path part).
FUTURES_SETTLE = "usdt"

DAY_S = 24 * 3600.0

SPOT_LIMITS = VenueLimits(
    streams_per_connection=300,
    client_msgs_per_second=10.0,
    streams_per_subscribe=20,
    connections_per_window=100,
    connection_window_s=300.0,
    connection_lifetime_s=DAY_S,
    rotate_margin_s=600.0,
    stale_after_s=30.0,  # candlesticks are pushed every 2 s
)

FUTURES_LIMITS = VenueLimits(
    streams_per_connection=300,
    client_msgs_per_second=10.0,
    streams_per_subscribe=20,
    connections_per_window=100,
    connection_window_s=300.0,
    connection_lifetime_s=DAY_S,
    rotate_margin_s=600.0,
    stale_after_s=30.0,
)
