"""Fake Gate.io v4 (spot ``/ws/v4/`` or USDT futures ``/v4/ws/usdt``): JSON
requests ``{"time", "id", "channel", "event", "payload"}`` answered with
Gate's ``{"time", "time_ms", "id", "channel", "event", "error", "result":
{"status": "success"}}``, ``*.ping`` → ``*.pong``, data frames
``{"time", "time_ms", "channel", "event": "update", "result"}`` (an object on
spot, a list on futures for candlesticks/trades/tickers), and the REST
endpoints ccxt's ``gate`` calls (currency pairs / contracts, candlesticks,
tickers). Kline frames are built from real candles in Gate's documented layout
(see tests/connectors/resources/gateio/README.md)."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from connectors.base.units import base_units
from tests.connectors.fakes.exchange import (
    MINUTE_MS,
    CandleRow,
    FakeClient,
    FakeExchange,
    json_response,
)

#: Contract size of every fake USDT perpetual (Gate's ``quanto_multiplier``).
QUANTO = 0.0001


def _s(x: float) -> str:
    return f"{x:.8f}"


def contracts(volume: float) -> int:
    """Base volume in contracts, as Gate futures report size."""
    return round(volume / QUANTO)


def in_base(volume: float) -> float:
    """What a client publishes for ``volume`` sent as whole contracts: back in base currency."""
    return base_units(contracts(volume), QUANTO)


class FakeGateio(FakeExchange):
    """``market`` is "spot" or "futures" (USDT-settled)."""

    def __init__(self, market: str = "spot", *, max_streams_per_connection: int = 300,
                 max_msgs_per_second: float = 10.0, **kw: Any) -> None:
        if market not in ("spot", "futures"):
            raise ValueError(f"FakeGateio market must be spot or futures, got {market!r}")
        super().__init__(max_streams_per_connection=max_streams_per_connection,
                         max_msgs_per_second=max_msgs_per_second, **kw)
        self.market = market
        self.prefix = market
        self.symbols: dict[str, tuple[str, str]] = {}
        self.quote_volume_24h: dict[str, float] = {}
        self.trade_ids: dict[str, int] = {}
        self.requests: list[dict[str, Any]] = []

    def list_symbol(self, base: str, quote: str, quote_volume_24h: float = 1e6) -> str:
        native = f"{base}_{quote}"
        self.symbols[native] = (base, quote)
        self.quote_volume_24h[native] = quote_volume_24h
        return native

    def contract_size(self, native: str) -> float:
        """Base units per contract of ``native`` (``quanto_multiplier`` in the contracts list)."""
        return QUANTO

    # ---- websocket protocol -------------------------------------------------
    def _response(self, req: dict[str, Any], error: dict[str, Any] | None = None) -> str:
        now = self.now_ms()
        out: dict[str, Any] = {"time": now // 1000, "time_ms": now, "channel": req.get("channel", ""),
                               "event": req.get("event", ""), "error": error,
                               "result": None if error else {"status": "success"}}
        if req.get("id") is not None:
            out["id"] = req["id"]
        return msgspec.json.encode(out).decode()

    async def on_client_message(self, client: FakeClient, text: str) -> None:
        try:
            req = msgspec.json.decode(text)
            channel = req["channel"]
        except (msgspec.DecodeError, KeyError, TypeError):
            await client.ws.send(self._response({}, {"code": 1, "message": "invalid request body format"}))
            return
        self.requests.append(req)
        if channel == f"{self.prefix}.ping":
            now = self.now_ms()
            await client.ws.send(msgspec.json.encode({"time": now // 1000, "time_ms": now, "channel": f"{self.prefix}.pong",
                                                      "event": "", "error": None, "result": None}).decode())
            return
        event, payload = req.get("event"), req.get("payload") or []
        known = {f"{self.prefix}.{c}" for c in ("candlesticks", "trades", "book_ticker", "tickers")}
        if channel not in known or event not in ("subscribe", "unsubscribe") or not isinstance(payload, list):
            await client.ws.send(self._response(req, {"code": 2, "message": f"unknown channel {channel}"}))
            return
        if channel.endswith(".candlesticks"):
            if len(payload) != 2:
                await client.ws.send(self._response(req, {"code": 2, "message": "payload must be [interval, pair]"}))
                return
            streams = [f"{channel}:{payload[0]}_{payload[1]}"]
        else:
            streams = [f"{channel}:{p}" for p in payload]
        if event == "subscribe":
            client.streams.update(streams)
        else:
            client.streams.difference_update(streams)
        await client.ws.send(self._response(req))

    def wrap(self, stream: str, payload: Any) -> str:
        now = self.now_ms()
        channel = stream.partition(":")[0]
        return msgspec.json.encode({"time": now // 1000, "time_ms": now, "channel": channel, "event": "update",
                                    "result": payload}).decode()

    # ---- frames in Gate's layout ---------------------------------------------
    def candlestick(self, native: str, row: CandleRow, *, closed: bool) -> Any:
        if self.market == "spot":
            return {"t": str(row.open_time // 1000), "v": _s(row.quote_volume), "c": _s(row.close),
                    "h": _s(row.high), "l": _s(row.low), "o": _s(row.open), "n": f"1m_{native}",
                    "a": _s(row.volume), "w": closed}
        return [{"t": row.open_time // 1000, "v": contracts(row.volume), "c": _s(row.close), "h": _s(row.high),
                 "l": _s(row.low), "o": _s(row.open), "n": f"1m_{native}", "a": _s(row.volume), "w": closed}]

    def trade(self, native: str, price: float, qty: float, ts: int, taker_sells: bool) -> Any:
        tid = self.trade_ids.get(native, 5_000_000) + 1
        self.trade_ids[native] = tid
        if self.market == "spot":
            return {"id": tid, "id_market": tid - 4_000_000, "create_time": ts // 1000,
                    "create_time_ms": f"{ts}.1234", "side": "sell" if taker_sells else "buy",
                    "currency_pair": native, "amount": _s(qty), "price": _s(price),
                    "range": f"{tid - 4_000_000}-{tid - 4_000_000}"}
        size = max(1, contracts(qty))
        return [{"size": -size if taker_sells else size, "id": tid, "create_time": ts // 1000,
                 "create_time_ms": ts, "price": _s(price), "contract": native}]

    def book_ticker(self, native: str, bid: float, ask: float, ts: int) -> dict[str, Any]:
        if self.market == "spot":
            return {"t": ts, "u": ts // 7, "s": native, "b": _s(bid), "B": "1.5", "a": _s(ask), "A": "2"}
        return {"t": ts, "u": ts // 7, "s": native, "b": _s(bid), "B": 15000, "a": _s(ask), "A": 20000}

    def ticker(self, native: str, last: float) -> list[dict[str, Any]]:
        return [{"contract": native, "last": _s(last), "change_percentage": "0.1", "funding_rate": "0.0001",
                 "funding_rate_indicative": "0.0001", "mark_price": _s(last), "index_price": _s(last),
                 "total_size": "123456", "volume_24h": "1000", "volume_24h_quote": _s(self.quote_volume_24h[native]),
                 "volume_24h_settle": "1000", "volume_24h_base": "10", "low_24h": _s(last), "high_24h": _s(last)}]

    async def play_minute(self, native: str, row: CandleRow) -> None:
        """A partial candlestick, a trade, a book ticker (and a ticker on futures),
        then the closing candlestick (``w: true``). The clock moves to the minute's end."""
        p = self.prefix
        self.set_now(row.open_time + 30_000)
        partial = CandleRow(row.open_time, row.open, max(row.open, row.close), min(row.open, row.close), row.close,
                            row.volume / 2)
        await self.publish(f"{p}.candlesticks:1m_{native}", self.candlestick(native, partial, closed=False))
        await self.publish(f"{p}.trades:{native}", self.trade(native, row.close, 0.01, self.now_ms(),
                                                               taker_sells=row.close < row.open))
        await self.publish(f"{p}.book_ticker:{native}", self.book_ticker(native, row.low, row.high, self.now_ms()))
        if self.market == "futures":
            await self.publish(f"{p}.tickers:{native}", self.ticker(native, row.close))
        self.add_candles(native, [row])
        self.set_now(row.close_time + 1)
        await self.publish(f"{p}.candlesticks:1m_{native}", self.candlestick(native, row, closed=True))

    # ---- REST ---------------------------------------------------------------
    def rest_routes(self) -> list[tuple[str, str, Any]]:
        if self.market == "spot":
            return [("GET", "/api/v4/spot/currency_pairs", self._currency_pairs),
                    ("GET", "/api/v4/margin/currency_pairs", self._margin_pairs),
                    ("GET", "/api/v4/spot/candlesticks", self._candlesticks),
                    ("GET", "/api/v4/spot/tickers", self._spot_tickers)]
        return [("GET", "/api/v4/futures/{settle}/contracts", self._contracts),
                ("GET", "/api/v4/futures/{settle}/candlesticks", self._candlesticks),
                ("GET", "/api/v4/futures/{settle}/tickers", self._futures_tickers)]

    async def _currency_pairs(self, request: web.Request) -> web.Response:
        return json_response([{"id": native, "base": base, "base_name": base, "quote": quote, "quote_name": quote,
                               "fee": "0.2", "min_base_amount": "0.0001", "min_quote_amount": "1",
                               "max_quote_amount": "5000000", "amount_precision": 4, "precision": 2,
                               "trade_status": "tradable", "sell_start": 1516378650, "buy_start": 1516378650,
                               "type": "normal"}
                              for native, (base, quote) in self.symbols.items()])

    async def _margin_pairs(self, request: web.Request) -> web.Response:
        return json_response([])

    async def _contracts(self, request: web.Request) -> web.Response:
        if request.match_info["settle"] != "usdt":
            return json_response([])
        out = []
        for native in self.symbols:
            store = self.candles.get(native, {})
            last = store[max(store)].close if store else 1.0
            out.append({"name": native, "type": "direct", "quanto_multiplier": _s(QUANTO), "mark_type": "index",
                        "last_price": _s(last), "mark_price": _s(last), "index_price": _s(last),
                        "order_price_round": "0.1", "mark_price_round": "0.01", "order_price_deviate": "0.5",
                        "order_size_min": 1, "order_size_max": 1000000, "leverage_min": "1", "leverage_max": "100",
                        "funding_rate": "0.0001", "funding_interval": 28800, "funding_next_apply": 1610035200,
                        "in_delisting": False, "status": "trading", "create_time": 1516378650})
        return json_response(out)

    async def _candlesticks(self, request: web.Request) -> web.Response:
        q = request.query
        native = q.get("contract" if self.market == "futures" else "currency_pair", "")
        if native not in self.symbols:
            return json_response({"label": "INVALID_CURRENCY_PAIR", "message": f"Invalid pair {native}"}, status=400)
        if q.get("interval") != "1m":
            return json_response({"label": "INVALID_PARAM_VALUE", "message": "invalid interval"}, status=400)
        if "from" in q:
            start = int(q["from"]) * 1000
            end = int(q.get("to", str((start + 999 * MINUTE_MS) // 1000))) * 1000
            if (end - start) // MINUTE_MS + 1 > (2000 if self.market == "futures" else 1000):
                return json_response({"label": "INVALID_PARAM_VALUE", "message": "too many points"}, status=400)
            limit = 2000
        else:
            limit = int(q.get("limit", "100"))
            end = self.now_ms()
            start = end - limit * MINUTE_MS
        rows = self.closed_candles(native, start, end, limit)
        # Like the real endpoint, the window in progress is included with partial values.
        current = self.now_ms() // MINUTE_MS * MINUTE_MS
        store = self.candles.get(native, {})
        partial = None
        if start <= current <= end and store and current not in store and current > max(store):
            last = store[max(store)]
            partial = CandleRow(current, last.close, last.close, last.close, last.close, 0.0)
        if self.market == "spot":
            out: list[Any] = [[str(r.open_time // 1000), _s(r.quote_volume), _s(r.close), _s(r.high), _s(r.low),
                               _s(r.open), _s(r.volume), "true"] for r in rows]
            if partial is not None:
                out.append([str(current // 1000), "0", _s(partial.close), _s(partial.close), _s(partial.close),
                            _s(partial.close), "0", "false"])
        else:
            out = [{"t": r.open_time // 1000, "v": contracts(r.volume), "c": _s(r.close), "h": _s(r.high),
                    "l": _s(r.low), "o": _s(r.open), "sum": _s(r.quote_volume)} for r in rows]
            if partial is not None:
                out.append({"t": current // 1000, "v": 0, "c": _s(partial.close), "h": _s(partial.close),
                            "l": _s(partial.close), "o": _s(partial.close), "sum": "0"})
        return json_response(out)

    async def _spot_tickers(self, request: web.Request) -> web.Response:
        out = []
        for native in self.symbols:
            store = self.candles.get(native, {})
            last = store[max(store)].close if store else 1.0
            out.append({"currency_pair": native, "last": _s(last), "lowest_ask": _s(last), "highest_bid": _s(last),
                        "change_percentage": "0", "base_volume": _s(self.quote_volume_24h[native] / last),
                        "quote_volume": _s(self.quote_volume_24h[native]), "high_24h": _s(last), "low_24h": _s(last)})
        return json_response(out)

    async def _futures_tickers(self, request: web.Request) -> web.Response:
        out = []
        for native in self.symbols:
            store = self.candles.get(native, {})
            last = store[max(store)].close if store else 1.0
            out.extend(self.ticker(native, last))
        return json_response(out)
