"""Fake Bybit v5 spot / linear: ``/v5/public/{spot,linear}`` with ``op``
subscribe / unsubscribe / ping and their exact responses (spot and linear
answer slightly differently, as captured), at most 10 args per spot request,
and the REST endpoints ccxt calls (``/v5/market/instruments-info``,
``/v5/market/kline``, ``/v5/market/tickers``, ``/v5/market/time``). Frames are
built from real candles in Bybit's exact layout (compare the captured frames
under tests/connectors/resources/bybit/)."""

from __future__ import annotations

import uuid
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

# Real instruments-info entries (BTCUSDT, captured 2026-08 in cryptofeed's v3
# branch sample); the fake lists other symbols by replacing symbol and coins.
_SPOT_INSTRUMENT: dict[str, Any] = {
    "symbolId": 9, "symbol": "BTCUSDT", "baseCoin": "BTC", "quoteCoin": "USDT", "innovation": "0",
    "status": "Trading", "marginTrading": "utaOnly", "stTag": "0",
    "lotSizeFilter": {"basePrecision": "0.000001", "quotePrecision": "0.0000001", "minOrderQty": "0.000001",
                      "maxOrderQty": "230", "minOrderAmt": "5", "maxOrderAmt": "8000000", "maxLimitOrderQty": "230",
                      "maxMarketOrderQty": "120", "postOnlyMaxLimitOrderSize": "1150"},
    "priceFilter": {"tickSize": "0.1"}, "riskParameters": {"priceLimitRatioX": "0.005", "priceLimitRatioY": "0.01"},
    "symbolType": "", "xstockMultiplier": "1"}
_LINEAR_INSTRUMENT: dict[str, Any] = {
    "symbol": "BTCUSDT", "contractType": "LinearPerpetual", "status": "Trading", "baseCoin": "BTC",
    "quoteCoin": "USDT", "launchTime": "1584230400000", "deliveryTime": "0", "deliveryFeeRate": "",
    "priceScale": "2", "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
    "priceFilter": {"minPrice": "0.10", "maxPrice": "1999999.80", "tickSize": "0.10"},
    "lotSizeFilter": {"maxOrderQty": "1500.000", "minOrderQty": "0.001", "qtyStep": "0.001",
                      "postOnlyMaxOrderQty": "1500.000", "maxMktOrderQty": "150.000", "minNotionalValue": "5"},
    "unifiedMarginTrade": True, "fundingInterval": 480, "settleCoin": "USDT", "copyTrading": "both",
    "upperFundingRate": "0.005", "lowerFundingRate": "-0.005", "isPreListing": False, "preListingInfo": None,
    "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"}, "displayName": "",
    "symbolType": "", "forbidUplWithdrawal": False, "symbolId": 5}


def _s(x: float) -> str:
    return f"{x:.8f}".rstrip("0").rstrip(".") if x else "0"


class FakeBybit(FakeExchange):
    """``category`` is "spot" or "linear" (the websocket path and REST category)."""

    def __init__(self, category: str = "spot", *, max_streams_per_connection: int = 200,
                 max_msgs_per_second: float = 10.0, max_args_per_request: int | None = None, **kw: Any) -> None:
        if category not in ("spot", "linear"):
            raise ValueError(f"FakeBybit category must be spot or linear, got {category!r}")
        kw.setdefault("ping_interval_s", None)  # Bybit relies on the client's JSON ping
        super().__init__(max_streams_per_connection=max_streams_per_connection,
                         max_msgs_per_second=max_msgs_per_second, **kw)
        self.category = category
        # spot documents 10 args per request; linear has no count limit (args length)
        self.max_args = max_args_per_request or (10 if category == "spot" else 1000)
        self.symbols: dict[str, tuple[str, str]] = {}
        self.quote_volume_24h: dict[str, float] = {}
        self.trade_seq = 2280000001739247417
        self.pings = 0
        self.rejected_requests: list[str] = []

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/v5/public/{self.category}"

    def list_symbol(self, base: str, quote: str, quote_volume_24h: float = 1e6) -> str:
        native = f"{base}{quote}"
        self.symbols[native] = (base, quote)
        self.quote_volume_24h[native] = quote_volume_24h
        return native

    # ---- websocket protocol -------------------------------------------------
    def _conn_id(self, client: FakeClient) -> str:
        return f"fake-{id(client):x}"

    async def _reply(self, client: FakeClient, op: str, req_id: str | None, success: bool, ret_msg: str) -> None:
        if self.category == "spot":
            resp: dict[str, Any] = {"success": success, "ret_msg": ret_msg if not success else op,
                                    "conn_id": self._conn_id(client)}
            if req_id is not None:
                resp["req_id"] = req_id
            resp["op"] = op
        else:
            resp = {"success": success, "ret_msg": ret_msg if not success else "",
                    "conn_id": self._conn_id(client), "req_id": req_id or "", "op": op}
        await client.ws.send(msgspec.json.encode(resp).decode())

    async def on_client_message(self, client: FakeClient, text: str) -> None:
        if not client.path.startswith(f"/v5/public/{self.category}"):
            await client.ws.close(1008, f"wrong path {client.path}")
            return
        try:
            req = msgspec.json.decode(text)
            op = req["op"]
        except (msgspec.DecodeError, KeyError, TypeError):
            await self._reply(client, "", None, False, "error:request not valid json")
            return
        req_id = req.get("req_id")
        if op == "ping":
            self.pings += 1
            await client.ws.send(msgspec.json.encode({"success": True, "ret_msg": "pong",
                                                      "conn_id": self._conn_id(client), "req_id": req_id or "",
                                                      "op": "ping"}).decode())
            return
        args = req.get("args") or []
        if op in ("subscribe", "unsubscribe"):
            if len(args) > self.max_args:
                self.rejected_requests.append(text)
                await self._reply(client, op, req_id, False, f"error:args size >{self.max_args}")
                return
            bad = [a for a in args if a.rpartition(".")[2] not in self.symbols]
            if op == "subscribe" and bad:
                self.rejected_requests.append(text)
                await self._reply(client, op, req_id, False, f"error:handler not found,topic:{bad[0]}")
                return
            if op == "subscribe":
                client.streams.update(args)
            else:
                client.streams.difference_update(args)
            await self._reply(client, op, req_id, True, "")
            return
        await self._reply(client, op, req_id, False, f"error:unknown op {op}")

    def wrap(self, stream: str, payload: dict[str, Any]) -> str:
        return msgspec.json.encode({"topic": stream, **payload}).decode()

    # ---- frames in Bybit's layout -------------------------------------------
    @staticmethod
    def kline_entry(row: CandleRow, *, confirm: bool, timestamp: int) -> dict[str, Any]:
        return {"start": row.open_time, "end": row.close_time, "interval": "1", "open": _s(row.open),
                "close": _s(row.close), "high": _s(row.high), "low": _s(row.low), "volume": _s(row.volume),
                "turnover": _s(row.quote_volume), "confirm": confirm, "timestamp": timestamp}

    def kline_payload(self, row: CandleRow, *, confirm: bool, ts: int) -> dict[str, Any]:
        data = [self.kline_entry(row, confirm=confirm, timestamp=ts)]
        if confirm and self.category == "linear":
            # linear's closing push also carries the new candle (as captured)
            nxt = CandleRow(row.close_time + 1, row.close, row.close, row.close, row.close, 0.0)
            data.append(self.kline_entry(nxt, confirm=False, timestamp=ts))
        return {"data": data, "ts": ts, "type": "snapshot"}

    def trade_payload(self, native: str, price: float, qty: float, ts: int, side: str) -> dict[str, Any]:
        self.trade_seq += 1
        trade: dict[str, Any] = {"T": ts, "s": native, "S": side, "v": _s(qty), "p": _s(price)}
        if self.category == "linear":
            trade |= {"L": "PlusTick", "i": str(uuid.UUID(int=self.trade_seq)), "BT": False, "RPI": False,
                      "seq": self.trade_seq}
        else:
            trade |= {"i": str(self.trade_seq), "BT": False, "RPI": False, "seq": self.trade_seq}
        return {"type": "snapshot", "ts": ts, "data": [trade]}

    def book_payload(self, native: str, bid: float, ask: float, ts: int) -> dict[str, Any]:
        return {"type": "snapshot", "ts": ts, "data": {"s": native, "b": [[_s(bid), "1.5"]], "a": [[_s(ask), "2"]],
                                                       "u": ts // 10, "seq": ts}, "cts": ts - 1}

    def ticker_payload(self, native: str, mark: float, ts: int) -> dict[str, Any]:
        nxt = (ts // (8 * 3600_000) + 1) * 8 * 3600_000
        return {"type": "snapshot", "ts": ts, "cs": ts, "data": {
            "symbol": native, "lastPrice": _s(mark), "markPrice": _s(mark), "indexPrice": _s(mark * 1.0001),
            "openInterest": "59891.732", "openInterestValue": _s(59891.732 * mark), "fundingRate": "0.0001",
            "nextFundingTime": str(nxt), "bid1Price": _s(mark), "ask1Price": _s(mark)}}

    async def play_minute(self, native: str, row: CandleRow) -> None:
        """One minute: a partial kline, a trade, a level 1 book (and on linear
        a ticker), then the closing kline. The clock moves to the minute's end."""
        self.set_now(row.open_time + 30_000)
        now = self.now_ms()
        partial = CandleRow(row.open_time, row.open, max(row.open, row.close), min(row.open, row.close), row.close,
                            row.volume / 2)
        await self.publish(f"kline.1.{native}", self.kline_payload(partial, confirm=False, ts=now))
        await self.publish(f"publicTrade.{native}", self.trade_payload(native, row.close, 0.01, now,
                                                                         "Sell" if row.close < row.open else "Buy"))
        await self.publish(f"orderbook.1.{native}", self.book_payload(native, row.low, row.high, now))
        if self.category == "linear":
            await self.publish(f"tickers.{native}", self.ticker_payload(native, row.close, now))
        self.add_candles(native, [row])
        self.set_now(row.close_time + 1)
        await self.publish(f"kline.1.{native}", self.kline_payload(row, confirm=True, ts=row.close_time + 1))

    # ---- REST ---------------------------------------------------------------
    def rest_routes(self) -> list[tuple[str, str, Any]]:
        return [("GET", "/v5/market/instruments-info", self._instruments), ("GET", "/v5/market/kline", self._kline),
                ("GET", "/v5/market/tickers", self._tickers), ("GET", "/v5/market/time", self._time)]

    def _envelope(self, result: Any) -> web.Response:
        return json_response({"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {},
                              "time": self.now_ms()})

    def _error(self, code: int, msg: str) -> web.Response:
        return json_response({"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": self.now_ms()})

    async def _time(self, request: web.Request) -> web.Response:
        now = self.now_ms()
        return self._envelope({"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)})

    async def _instruments(self, request: web.Request) -> web.Response:
        category = request.query.get("category")
        if category != self.category:
            return self._envelope({"category": category, "list": [], "nextPageCursor": ""})
        template = _SPOT_INSTRUMENT if category == "spot" else _LINEAR_INSTRUMENT
        items = [template | {"symbol": native, "baseCoin": base, "quoteCoin": quote}
                 | ({"settleCoin": quote} if category == "linear" else {})
                 for native, (base, quote) in self.symbols.items()]
        return self._envelope({"category": category, "list": items, "nextPageCursor": ""})

    async def _kline(self, request: web.Request) -> web.Response:
        q = request.query
        native = q.get("symbol", "")
        if q.get("category") != self.category:
            return self._error(10001, f"category {q.get('category')!r} not supported here")
        if native not in self.symbols:
            return self._error(10001, "Not supported symbols")
        if q.get("interval") != "1":
            return self._error(10001, "Invalid period!")
        limit = min(int(q.get("limit", "200")), 1000)
        start = int(q["start"]) if "start" in q else None
        end = int(q["end"]) if "end" in q else None
        rows = self.closed_candles(native, start, end, limit)
        out = [[str(r.open_time), _s(r.open), _s(r.high), _s(r.low), _s(r.close), _s(r.volume), _s(r.quote_volume)]
               for r in rows]
        # Like the real endpoint, the candle in progress is included (partial values).
        store = self.candles.get(native, {})
        current = self.now_ms() // MINUTE_MS * MINUTE_MS
        if len(out) < limit and store and current not in store and current > max(store) \
                and (start is None or current >= start) and (end is None or current <= end):
            last = store[max(store)].close
            out.append([str(current), _s(last), _s(last), _s(last), _s(last), "0", "0"])
        out.reverse()  # Bybit lists newest first
        return self._envelope({"symbol": native, "category": self.category, "list": out})

    async def _tickers(self, request: web.Request) -> web.Response:
        out = []
        for native in self.symbols:
            store = self.candles.get(native, {})
            last = store[max(store)].close if store else 1.0
            t = {"symbol": native, "bid1Price": _s(last), "bid1Size": "1", "ask1Price": _s(last), "ask1Size": "1",
                 "lastPrice": _s(last), "prevPrice24h": _s(last), "price24hPcnt": "0", "highPrice24h": _s(last),
                 "lowPrice24h": _s(last), "turnover24h": _s(self.quote_volume_24h[native]),
                 "volume24h": _s(self.quote_volume_24h[native] / last)}
            if self.category == "linear":
                t |= {"markPrice": _s(last), "indexPrice": _s(last), "fundingRate": "0.0001",
                      "openInterest": "1000", "openInterestValue": _s(1000 * last), "nextFundingTime": "0"}
            out.append(t)
        single = request.query.get("symbol")
        if single:
            out = [t for t in out if t["symbol"] == single]
        return self._envelope({"category": self.category, "list": out})
