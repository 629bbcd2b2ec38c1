"""MEXC endpoints and websocket limits.

Spot: https://www.mexc.com/api-docs/spot-v3/websocket-market-streams
  - server ``wss://wbs-api.mexc.com/ws``; data frames are binary protobuf
    (``PushDataV3ApiWrapper``, see ``connectors.mexc.proto``), responses JSON;
  - ``{"method": "SUBSCRIPTION" | "UNSUBSCRIPTION", "params": [...]}`` answered
    ``{"id", "code": 0, "msg": "<channels>"}`` (a refused channel:
    ``"Not Subscribed successfully! [<channel>].  Reason： ..."``);
    ``{"method": "PING"}`` answered ``{"id": 0, "code": 0, "msg": "PONG"}``;
  - "one ws connection supports a maximum of 30 subscriptions"; a connection
    is valid for at most 24 hours; without a valid subscription the server
    disconnects after 30 s, without data flow after one minute (a PING keeps
    it alive); "Websocket Limits": 100 messages per second per connection;
  - klines are pushed "every second" with the running state of the window and
    no close flag.
USDT-M contracts: https://www.mexc.com/api-docs/futures/websocket-api
  - server ``wss://contract.mexc.com/edge``; JSON; ``{"method": "sub.<x>",
    "param": {"symbol": ...}}`` answered ``{"channel": "rs.sub.<x>", "data":
    "success"}``, errors ``{"channel": "rs.error", "data": "<reason>"}``;
  - ``{"method": "ping"}`` answered ``{"channel": "pong", "data": <ms>}``;
    "if no ping is received within 1 minute, the connection will be
    disconnected. It is recommended to send a ping for 10-20 seconds";
  - ``"gzip": false`` in a subscription asks for plain-text pushes.
MEXC does not document a subscription cap, a message rate, a connection-attempt
limit or a forced lifetime for contract connections, nor a connection-attempt
limit for spot. Those numbers below are deliberately conservative choices,
not documented limits (and a rotation every 24 h, gap-free, so a silent
server-side limit never costs data).
"""

from __future__ import annotations

from connectors.base.venue import VenueLimits

SPOT_WS_URL = "wss://wbs-api.mexc.com/ws"
SPOT_REST_URL = "https://api.mexc.com"
FUTURES_WS_URL = "wss://contract.mexc.com/edge"
#: ccxt's ``contract`` API lives under ``<rest>/api/v1/contract`` on the same host as spot.
FUTURES_REST_URL = "https://api.mexc.com"
FUTURES_CONTRACT_PATH = "/api/v1/contract"

DAY_S = 24 * 3600.0
SPOT_PING_INTERVAL_S = 20.0
FUTURES_PING_INTERVAL_S = 15.0  # documented: within 1 minute, 10-20 s recommended

#: Aggregation interval of the spot deal and book-ticker channels (MEXC offers 100ms or 10ms).
SPOT_AGGREGATION = "100ms"
#: Levels of the contract ``sub.depth.full`` snapshot we take the best bid/ask from (5, 10 or 20).
FUTURES_DEPTH_LIMIT = 5

#: A window with no push of its successor is closed this long after its end,
#: measured on the exchange's clock (the send time of any frame of the venue).
KLINE_CLOSE_GRACE_MS = 3_000

SPOT_LIMITS = VenueLimits(
    streams_per_connection=30,      # documented
    client_msgs_per_second=10.0,    # documented 100/s; we stay far below
    streams_per_subscribe=30,       # one SUBSCRIPTION can carry a whole connection
    connections_per_window=10,      # not documented
    connection_window_s=1.0,
    connection_lifetime_s=DAY_S,    # documented
    rotate_margin_s=600.0,
    stale_after_s=45.0,             # PONGs count as frames; this only catches a dead socket
)

FUTURES_LIMITS = VenueLimits(
    streams_per_connection=100,     # not documented: 20 symbols x 5 channels
    client_msgs_per_second=10.0,    # not documented
    streams_per_subscribe=1,        # every sub.* request names one symbol (the protocol)
    connections_per_window=10,      # not documented
    connection_window_s=1.0,
    connection_lifetime_s=DAY_S,    # not documented: rotate daily anyway
    rotate_margin_s=600.0,
    stale_after_s=45.0,
)
