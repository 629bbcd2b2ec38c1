"""Fake Binance spot / USDⓈ-M: combined streams with SUBSCRIBE/UNSUBSCRIBE and
their ``{"result": null, "id": n}`` acks, and the REST endpoints ccxt calls
(exchangeInfo, klines, ticker/24hr, time). Kline frames are built from real
candles in Binance's exact field layout (compare the captured frames under
tests/connectors/resources/binance/)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web

from tests.connectors.fakes.exchange import (
    MINUTE_MS,
    CandleRow,
    FakeClient,
    FakeExchange,
    json_response,
)


def _s(x: float) -> str:
    return f"{x:.8f}"


def load_jesse_candles(path: Path, limit: int | None = None) -> list[CandleRow]:
    """jesse's 1m CSVs (MIT): columns timestamp_ms,open,close,high,low,volume."""
    rows = []
    with path.open() as fh:
        for i, rec in enumerate(csv.DictReader(fh)):
            if limit is not None and i >= limit:
                break
            rows.append(CandleRow(open_time=int(rec["timestamp_ms"]), open=float(rec["open"]),
                                  high=float(rec["high"]), low=float(rec["low"]), close=float(rec["close"]),
                                  volume=float(rec["volume"]), trades=10 + i % 7))
    return rows


class FakeBinance(FakeExchange):
    """``market`` is "spot" (``/api/v3``) or "usdm" (``/fapi/v1``)."""

    def __init__(self, market: str = "spot", *, max_streams_per_connection: int = 1024,
                 max_msgs_per_second: float | None = None, **kw: Any) -> None:
        if market not in ("spot", "usdm"):
            raise ValueError(f"FakeBinance market must be spot or usdm, got {market!r}")
        rate = max_msgs_per_second or (5.0 if market == "spot" else 10.0)
        super().__init__(max_streams_per_connection=max_streams_per_connection, max_msgs_per_second=rate, **kw)
        self.market = market
        self.symbols: dict[str, tuple[str, str]] = {}  # native -> (base, quote)
        self.quote_volume_24h: dict[str, float] = {}
        self.trade_ids: dict[str, int] = {}

    def list_symbol(self, base: str, quote: str, quote_volume_24h: float = 1e6) -> str:
        native = f"{base}{quote}"
        self.symbols[native] = (base, quote)
        self.quote_volume_24h[native] = quote_volume_24h
        return native

    # ---- websocket protocol -------------------------------------------------
    def on_client_connected(self, client: FakeClient) -> None:
        # /stream?streams=a/b/c subscribes on connect, like the real endpoint.
        if "?streams=" in client.path:
            client.streams.update(client.path.split("?streams=", 1)[1].split("/"))

    async def on_client_message(self, client: FakeClient, text: str) -> None:
        try:
            req = msgspec.json.decode(text)
            method, req_id = req["method"], req.get("id")
        except (msgspec.DecodeError, KeyError, TypeError):
            await client.ws.send('{"error":{"code":3,"msg":"Invalid JSON: expected request object"}}')
            return
        params = req.get("params") or []
        if method == "SUBSCRIBE":
            client.streams.update(params)
            await client.ws.send(msgspec.json.encode({"result": None, "id": req_id}).decode())
        elif method == "UNSUBSCRIBE":
            client.streams.difference_update(params)
            await client.ws.send(msgspec.json.encode({"result": None, "id": req_id}).decode())
        elif method == "LIST_SUBSCRIPTIONS":
            await client.ws.send(msgspec.json.encode({"result": sorted(client.streams), "id": req_id}).decode())
        else:
            await client.ws.send(msgspec.json.encode({"error": {"code": 2, "msg": f"Invalid request: unknown method {method}"}, "id": req_id}).decode())

    def wrap(self, stream: str, payload: dict[str, Any]) -> str:
        return msgspec.json.encode({"stream": stream, "data": payload}).decode()

    # ---- frames in Binance's layout -----------------------------------------
    def kline_payload(self, native: str, row: CandleRow, *, closed: bool, event_time: int) -> dict[str, Any]:
        return {"e": "kline", "E": event_time, "s": native, "k": {
            "t": row.open_time, "T": row.close_time, "s": native, "i": "1m", "f": 100, "L": 100 + row.trades,
            "o": _s(row.open), "c": _s(row.close), "h": _s(row.high), "l": _s(row.low), "v": _s(row.volume),
            "n": row.trades, "x": closed, "q": _s(row.quote_volume), "V": _s(row.volume / 2),
            "Q": _s(row.quote_volume / 2), "B": "0"}}

    def trade_payload(self, native: str, price: float, qty: float, ts: int, buyer_maker: bool) -> tuple[str, dict[str, Any]]:
        tid = self.trade_ids.get(native, 1000) + 1
        self.trade_ids[native] = tid
        if self.market == "spot":
            return f"{native.lower()}@trade", {"e": "trade", "E": ts, "s": native, "t": tid, "p": _s(price),
                                               "q": _s(qty), "T": ts, "m": buyer_maker, "M": True}
        return f"{native.lower()}@aggTrade", {"e": "aggTrade", "E": ts, "a": tid, "s": native, "p": _s(price),
                                              "q": _s(qty), "f": tid * 2, "l": tid * 2 + 1, "T": ts, "m": buyer_maker}

    def book_payload(self, native: str, bid: float, ask: float, ts: int) -> dict[str, Any]:
        p: dict[str, Any] = {"u": ts, "s": native, "b": _s(bid), "B": "1.50000000", "a": _s(ask), "A": "2.00000000"}
        if self.market == "usdm":
            p = {"e": "bookTicker", **p, "T": ts, "E": ts}
        return p

    async def play_minute(self, native: str, row: CandleRow) -> None:
        """One minute of market data: a partial kline, a trade, a book ticker,
        then the closing kline. The clock moves to the minute's end."""
        low = native.lower()
        self.set_now(row.open_time + 30_000)
        partial = CandleRow(row.open_time, row.open, max(row.open, row.close), min(row.open, row.close), row.close, row.volume / 2)
        await self.publish(f"{low}@kline_1m", self.kline_payload(native, partial, closed=False, event_time=self.now_ms()))
        stream, payload = self.trade_payload(native, row.close, 0.01, self.now_ms(), buyer_maker=row.close < row.open)
        await self.publish(stream, payload)
        await self.publish(f"{low}@bookTicker", self.book_payload(native, row.low, row.high, self.now_ms()))
        self.add_candles(native, [row])
        self.set_now(row.close_time + 1)
        await self.publish(f"{low}@kline_1m", self.kline_payload(native, row, closed=True, event_time=row.close_time + 1))

    # ---- REST ---------------------------------------------------------------
    def rest_routes(self) -> list[tuple[str, str, Any]]:
        p = "/api/v3" if self.market == "spot" else "/fapi/v1"
        return [("GET", f"{p}/exchangeInfo", self._exchange_info), ("GET", f"{p}/klines", self._klines),
                ("GET", f"{p}/ticker/24hr", self._ticker_24hr), ("GET", f"{p}/time", self._time),
                ("GET", f"{p}/ping", self._ping)]

    async def _ping(self, request: web.Request) -> web.Response:
        return json_response({})

    async def _time(self, request: web.Request) -> web.Response:
        return json_response({"serverTime": self.now_ms()})

    async def _exchange_info(self, request: web.Request) -> web.Response:
        filters = [{"filterType": "PRICE_FILTER", "minPrice": "0.00000100", "maxPrice": "1000000.00", "tickSize": "0.00000100"},
                   {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00", "stepSize": "0.00001000"}]
        symbols = []
        for native, (base, quote) in self.symbols.items():
            s: dict[str, Any] = {"symbol": native, "status": "TRADING", "baseAsset": base, "baseAssetPrecision": 8,
                                 "quoteAsset": quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
                                 "orderTypes": ["LIMIT", "MARKET"], "filters": filters}
            if self.market == "spot":
                s |= {"isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
                      "permissions": [], "permissionSets": [["SPOT"]]}
            else:
                s |= {"pair": native, "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
                      "onboardDate": 1569398400000, "marginAsset": quote, "pricePrecision": 2,
                      "quantityPrecision": 3, "underlyingType": "COIN", "timeInForce": ["GTC"]}
            symbols.append(s)
        return json_response({"timezone": "UTC", "serverTime": self.now_ms(), "rateLimits": [],
                              "exchangeFilters": [], "symbols": symbols})

    async def _klines(self, request: web.Request) -> web.Response:
        q = request.query
        native = q.get("symbol", "")
        if native not in self.symbols:
            return json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        if q.get("interval") != "1m":
            return json_response({"code": -1120, "msg": "Invalid interval."}, status=400)
        max_limit = 1000 if self.market == "spot" else 1500
        limit = min(int(q.get("limit", "500")), max_limit)
        start = int(q["startTime"]) if "startTime" in q else None
        end = int(q["endTime"]) if "endTime" in q else None
        rows = self.closed_candles(native, start, end, limit)
        out = [[r.open_time, _s(r.open), _s(r.high), _s(r.low), _s(r.close), _s(r.volume), r.close_time,
                _s(r.quote_volume), r.trades, _s(r.volume / 2), _s(r.quote_volume / 2), "0"] for r in rows]
        # Like the real endpoint, the candle in progress is included (with partial values).
        current = self.now_ms() // MINUTE_MS * MINUTE_MS
        if len(out) < limit and (start is None or current >= start) and (end is None or current <= end) \
                and self.candles.get(native) and current not in self.candles[native] \
                and current > max(self.candles[native]):
            last = self.candles[native][max(self.candles[native])]
            out.append([current, _s(last.close), _s(last.close), _s(last.close), _s(last.close), "0.00000000",
                        current + MINUTE_MS - 1, "0.00000000", 0, "0.00000000", "0.00000000", "0"])
        return json_response(out)

    async def _ticker_24hr(self, request: web.Request) -> web.Response:
        out = []
        for native in self.symbols:
            store = self.candles.get(native, {})
            last = store[max(store)].close if store else 1.0
            out.append({"symbol": native, "priceChange": "0", "priceChangePercent": "0", "weightedAvgPrice": _s(last),
                        "lastPrice": _s(last), "lastQty": "1", "openPrice": _s(last), "highPrice": _s(last),
                        "lowPrice": _s(last), "volume": _s(self.quote_volume_24h[native] / last),
                        "quoteVolume": _s(self.quote_volume_24h[native]), "openTime": self.now_ms() - 86_400_000,
                        "closeTime": self.now_ms(), "firstId": 1, "lastId": 2, "count": 2})
        single = request.query.get("symbol")
        if single:
            match = [t for t in out if t["symbol"] == single]
            return json_response(match[0] if match else {"code": -1121, "msg": "Invalid symbol."})
        return json_response(out)
