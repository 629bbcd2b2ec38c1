"""The venue class: what the connector calls. REQUIRED methods raise nothing
the connector does not expect: ``parse_frame`` raises only ``RecordError``.

Checklist for a new venue (see docs/connectors.md, "Adding a venue"):

1. ``config.py``: URLs and documented limits (cite the docs).
2. ``schemas.py``: structs with the exchange's field names.
3. ``parse.py``: one ``parse_<msg>_to_<record>`` per message type.
4. ``client.py`` (this file): class attributes + the abstract methods of
   :class:`connectors.base.venue.Venue`; optional: app-level ping/pong,
   ``kline_closes_by_flag = False`` if klines have no close flag.
5. One line in ``connectors/registry.py``.
6. Tests: resources under ``tests/connectors/resources/<exchange>/`` (one real
   frame per message type), a fake under ``tests/connectors/fakes/`` and the
   contract tests (decode, reconnect backfill, dead letter, control topic,
   limits) pointed at it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import msgspec

from connectors._template import config, parse
from connectors._template.schemas import (
    TemplateEnvelope,
    TemplateKline,
    TemplateTicker,
    TemplateTrade,
)
from connectors.base.venue import Venue, VenueLimits
from connectors.records import SubscribeAck
from streams.records import RecordError

_envelope = msgspec.json.Decoder(TemplateEnvelope)
_TOPICS: dict[str, tuple[msgspec.json.Decoder[Any], Callable[..., Any]]] = {
    "kline.1m": (msgspec.json.Decoder(TemplateKline), parse.parse_kline_to_candle),
    "trade": (msgspec.json.Decoder(TemplateTrade), parse.parse_trade_to_tick),
    "ticker": (msgspec.json.Decoder(TemplateTicker), parse.parse_ticker_to_quote),
}
_CHANNEL_TOPIC = {"kline": "kline.1m", "trades": "trade", "quotes": "ticker"}


class TemplateVenue(Venue):
    # REQUIRED class attributes
    name: ClassVar[str] = "template"
    exchange: ClassVar[str] = "template"
    market: ClassVar[str] = "spot"
    ccxt_id: ClassVar[str] = "binance"  # the template reuses a ccxt id; a real venue names its own
    env_name: ClassVar[str] = "TEMPLATE"
    default_ws_url: ClassVar[str] = config.WS_URL
    default_rest_url: ClassVar[str] = config.REST_URL
    limits: ClassVar[VenueLimits] = config.LIMITS
    # OPTIONAL class attributes
    kline_closes_by_flag: ClassVar[bool] = True
    monotonic_trade_ids: ClassVar[bool] = True

    def accepts_market(self, market: dict[str, Any]) -> bool:  # REQUIRED
        return bool(market.get("spot"))

    def default_native_id(self, symbol: str) -> str:  # REQUIRED
        return symbol.replace("/", "-")

    def streams_for(self, symbol: str) -> list[str]:  # REQUIRED
        native = self.native_id(symbol)
        return [f"{_CHANNEL_TOPIC[c]}.{native}" for c in self.config.channels]

    def connect_url(self) -> str:  # REQUIRED
        return self.config.ws_url.rstrip("/") + "/ws"

    def subscribe_messages(self, streams: list[str], request_id: int) -> list[str]:  # REQUIRED
        size = self.limits.streams_per_subscribe
        return [msgspec.json.encode({"op": "subscribe", "args": streams[i:i + size], "req": request_id + n}).decode()
                for n, i in enumerate(range(0, len(streams), size))]

    def unsubscribe_messages(self, streams: list[str], request_id: int) -> list[str]:  # REQUIRED
        size = self.limits.streams_per_subscribe
        return [msgspec.json.encode({"op": "unsubscribe", "args": streams[i:i + size], "req": request_id + n}).decode()
                for n, i in enumerate(range(0, len(streams), size))]

    def parse_frame(self, frame: str | bytes, received_at: int) -> list[msgspec.Struct]:  # REQUIRED
        try:
            env = _envelope.decode(frame)
        except msgspec.DecodeError as exc:
            raise RecordError("malformed_json", f"{self.name}: {exc}") from None
        if env.op == "ack":
            return [SubscribeAck(env.req, ok=env.ok)]
        if env.op == "pong":
            return []
        if env.op != "data" or env.topic is None or not env.data:
            raise RecordError("unexpected_frame", f"{self.name}: op {env.op!r}")
        channel, _, native = env.topic.rpartition(".")
        entry = _TOPICS.get(channel)
        if entry is None:
            raise RecordError("unexpected_stream", f"{self.name}: topic {env.topic!r}")
        decoder, convert = entry
        try:
            msg = decoder.decode(env.data)
        except msgspec.ValidationError as exc:
            raise RecordError("schema_mismatch", f"{self.name} {env.topic}: {exc}") from None
        if channel == "kline.1m" and not msg.closed:
            return []
        symbol = self.subscribed_symbol(native, env.topic)
        return [convert(msg, symbol, self.exchange, self.market, received_at)]

    def ccxt_exchange(self) -> Any:  # REQUIRED
        import ccxt.async_support as ccxt_async

        exchange = ccxt_async.binance({"enableRateLimit": True})
        rest = self.config.rest_url.rstrip("/")
        exchange.urls["api"] = dict(exchange.urls["api"]) | {"public": f"{rest}/api/v3"}
        exchange.options["fetchMarkets"] = {"types": ["spot"]}
        return exchange
