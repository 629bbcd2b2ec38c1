"""OKX v5 endpoints and documented websocket limits.

https://www.okx.com/docs-v5/en/#overview-websocket (Overview, "Connect" and
"Connection count limit"), as restated by nautilus_trader's OKX adapter
(``nautilus_okx::websocket::client::OKX_WS_QUOTA``) and ccxt's ``pro/okx``:

  - public endpoints: ``wss://ws.okx.com:8443/ws/v5/public`` (trades, tickers,
    funding-rate, mark-price, open-interest) and ``.../ws/v5/business``
    (candlesticks, since OKX moved the candle channels there; a candle
    subscription on ``/public`` is refused with code 60018);
  - connection limit: 3 requests per second per IP (new connections);
  - 480 ``subscribe``/``unsubscribe``/``login`` requests per connection per hour;
  - the total length of the channels in one request may not exceed 64 KB
    (earlier docs: 4096 bytes; we stay under the old limit);
  - keepalive: the connection is closed when nothing was pushed for 30 s;
    the client sends the text ``ping`` and gets ``pong`` (no protocol pings);
  - 30 connections per channel per sub-account applies to logged-in
    connections; public market data needs no login.
OKX documents no cap on channels per connection nor a forced lifetime: 300
channels per connection bounds what one drop loses; we rotate daily.

REST: https://www.okx.com/docs-v5/en/#order-book-trading-market-data-get-candlesticks
(``/api/v5/market/candles``: the latest 1,440 bars, at most 300 per call) and
``/api/v5/market/history-candles`` (older bars, 300 per call per the current
docs; see ccxt issue #26705). Rows are newest first and include the candle in
progress (``confirm`` "0").
"""

from __future__ import annotations

from connectors.base.venue import VenueLimits

PUBLIC_WS_URL = "wss://ws.okx.com:8443/ws/v5/public"
BUSINESS_WS_URL = "wss://ws.okx.com:8443/ws/v5/business"
REST_URL = "https://www.okx.com"

DAY_S = 24 * 3600.0
#: Text ``ping`` period: below the 30 s idle cut even on a quiet connection.
PING_INTERVAL_S = 20.0
#: Rows per REST candles call (both endpoints); the client pages above this.
CANDLES_PER_CALL = 300
#: Channel args per subscribe request: ~45 bytes each, 50 stay under 4096 bytes.
ARGS_PER_REQUEST = 50

LIMITS = VenueLimits(
    streams_per_connection=300,
    # Not documented per connection beyond 480 requests/hour; 3/s (the per-IP
    # connection rate) paces subscribes and text pings alike.
    client_msgs_per_second=3.0,
    streams_per_subscribe=ARGS_PER_REQUEST,
    # 3 per second documented; counted over 1.25 s so that network jitter
    # between our clock and OKX's never makes OKX count a fourth in its second
    connections_per_window=3,
    connection_window_s=1.25,
    connection_lifetime_s=DAY_S,
    rotate_margin_s=600.0,
    stale_after_s=30.0,  # OKX itself cuts a connection silent for 30 s
)
