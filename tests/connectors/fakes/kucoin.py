"""Fake KuCoin (spot or USDT futures): ``POST /api/v1/bullet-public`` hands out
a token and this server's websocket endpoint; connections without a token are
refused; every connection is greeted with ``{"type": "welcome"}``;
``{"type": "subscribe"|"unsubscribe", "topic": "<prefix>:<a>,<b>", "response":
true}`` are acknowledged ``{"id", "type": "ack"}``, ``ping`` answered
``pong``, unknown topics answered ``{"type": "error", "code": 404}``; data
frames are ``{"type": "message", "topic", "subject", "data"}``. REST serves
the endpoints ccxt's ``kucoin`` / ``kucoinfutures`` call (symbols /
contracts, candles / kline query, tickers). Kline pushes are built from real
candles in KuCoin's layout: a push on every change of the running window, no
close flag (see tests/connectors/resources/kucoin/README.md)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlsplit

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

#: Contract size of every fake perpetual (KuCoin's ``multiplier``).
MULTIPLIER = 0.001

SPOT_TOPICS = {"/market/candles": "trade.candles.update", "/market/match": "trade.l3match",
               "/market/ticker": "trade.ticker"}
FUTURES_TOPICS = {"/contractMarket/limitCandle": "candle.stick", "/contractMarket/execution": "match",
                  "/contractMarket/tickerV2": "tickerV2", "/contract/instrument": "mark.index.price"}


def _s(x: float) -> str:
    return f"{x:.8f}"


def contracts(volume: float) -> int:
    return round(volume / MULTIPLIER)


def in_base(volume: float) -> float:
    """What a client publishes for ``volume`` sent as whole contracts: back in base currency."""
    return base_units(contracts(volume), MULTIPLIER)


class FakeKucoin(FakeExchange):
    """``market`` is "spot" or "futures"."""

    def __init__(self, market: str = "spot", *, max_streams_per_connection: int = 300,
                 max_msgs_per_second: float = 10.0, **kw: Any) -> None:
        if market not in ("spot", "futures"):
            raise ValueError(f"FakeKucoin market must be spot or futures, got {market!r}")
        super().__init__(max_streams_per_connection=max_streams_per_connection,
                         max_msgs_per_second=max_msgs_per_second, ping_interval_s=None, **kw)
        self.market = market
        self.topics = SPOT_TOPICS if market == "spot" else FUTURES_TOPICS
        self.symbols: dict[str, tuple[str, str]] = {}
        self.quote_volume_24h: dict[str, float] = {}
        self.trade_ids: dict[str, int] = {}
        self.tokens: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self.tokenless_refused = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def native(self, base: str, quote: str) -> str:
        if self.market == "spot":
            return f"{base}-{quote}"
        return f"{'XBT' if base == 'BTC' else base}{quote}M"

    def list_symbol(self, base: str, quote: str, quote_volume_24h: float = 1e6) -> str:
        native = self.native(base, quote)
        self.symbols[native] = (base, quote)
        self.quote_volume_24h[native] = quote_volume_24h
        return native

    def contract_size(self, native: str) -> float:
        """Base units per contract of ``native`` (``multiplier`` in the contracts list; futures)."""
        return MULTIPLIER

    # ---- websocket protocol -------------------------------------------------
    def on_client_connected(self, client: FakeClient) -> None:
        query = parse_qs(urlsplit(client.path).query)
        token = (query.get("token") or [""])[0]
        if token not in self.tokens:
            self.tokenless_refused += 1
            task = asyncio.ensure_future(client.ws.close(1008, "token required"))
        else:
            cid = (query.get("connectId") or [""])[0]
            task = asyncio.ensure_future(client.ws.send(msgspec.json.encode({"id": cid, "type": "welcome"}).decode()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def on_client_message(self, client: FakeClient, text: str) -> None:
        try:
            req = msgspec.json.decode(text)
            kind = req["type"]
        except (msgspec.DecodeError, KeyError, TypeError):
            await client.ws.send('{"type":"error","code":400,"data":"invalid message"}')
            return
        self.requests.append(req)
        rid = req.get("id")
        if kind == "ping":
            await client.ws.send(msgspec.json.encode({"id": rid, "type": "pong"}).decode())
            return
        if kind not in ("subscribe", "unsubscribe"):
            await client.ws.send(msgspec.json.encode({"id": rid, "type": "error", "code": 400,
                                                      "data": f"unknown type {kind}"}).decode())
            return
        prefix, _, args = str(req.get("topic", "")).partition(":")
        if prefix not in self.topics or not args:
            await client.ws.send(msgspec.json.encode({"id": rid, "type": "error", "code": 404,
                                                      "data": f"topic {req.get('topic')} is not found"}).decode())
            return
        streams = [f"{prefix}:{a}" for a in args.split(",")]
        if kind == "subscribe":
            client.streams.update(streams)
        else:
            client.streams.difference_update(streams)
        if req.get("response"):
            await client.ws.send(msgspec.json.encode({"id": rid, "type": "ack"}).decode())

    def wrap(self, stream: str, payload: Any) -> str:
        prefix = stream.partition(":")[0]
        return msgspec.json.encode({"type": "message", "topic": stream, "subject": self.topics[prefix],
                                    "data": payload}).decode()

    # ---- frames in KuCoin's layout --------------------------------------------
    def kline_topic(self, native: str) -> str:
        prefix = "/market/candles" if self.market == "spot" else "/contractMarket/limitCandle"
        return f"{prefix}:{native}_1min"

    def candle_push(self, native: str, row: CandleRow, push_ms: int) -> dict[str, Any]:
        start = str(row.open_time // 1000)
        if self.market == "spot":
            return {"symbol": native, "candles": [start, _s(row.open), _s(row.close), _s(row.high), _s(row.low),
                                                  _s(row.volume), _s(row.quote_volume)], "time": push_ms * 1_000_000}
        return {"symbol": native, "candles": [start, _s(row.open), _s(row.close), _s(row.high), _s(row.low),
                                              _s(row.quote_volume), str(contracts(row.volume))], "time": push_ms}

    def trade(self, native: str, price: float, qty: float, ts: int, taker_sells: bool) -> tuple[str, dict[str, Any]]:
        tid = self.trade_ids.get(native, 11067996711960000) + 1
        self.trade_ids[native] = tid
        side = "sell" if taker_sells else "buy"
        if self.market == "spot":
            return f"/market/match:{native}", {
                "makerOrderId": "671b5007389355000701b1d3", "price": _s(price), "sequence": str(tid), "side": side,
                "size": _s(qty), "symbol": native, "takerOrderId": "671b50161777ff00074c168d",
                "time": str(ts * 1_000_000), "tradeId": str(tid), "type": "match"}
        return f"/contractMarket/execution:{native}", {
            "symbol": native, "sequence": tid, "side": side, "size": max(1, contracts(qty)), "price": _s(price),
            "takerOrderId": "247822202957807616", "makerOrderId": "247822167163555840", "tradeId": str(tid),
            "ts": ts * 1_000_000}

    def ticker(self, native: str, bid: float, ask: float, ts: int) -> tuple[str, dict[str, Any]]:
        if self.market == "spot":
            return f"/market/ticker:{native}", {"bestAsk": _s(ask), "bestAskSize": "2", "bestBid": _s(bid),
                                                "bestBidSize": "1.5", "price": _s(bid), "sequence": str(ts),
                                                "size": "0.01", "time": ts}
        return f"/contractMarket/tickerV2:{native}", {"symbol": native, "sequence": ts, "bestBidSize": 1500,
                                                      "bestBidPrice": _s(bid), "bestAskPrice": _s(ask),
                                                      "bestAskSize": 2000, "ts": ts * 1_000_000}

    async def open_window(self, native: str, row: CandleRow) -> None:
        """The first push of a window (it also tells a client the previous window closed)."""
        self.set_now(row.open_time + 1_000)
        first = CandleRow(row.open_time, row.open, row.open, row.open, row.open, row.volume / 10)
        await self.publish(self.kline_topic(native), self.candle_push(native, first, self.now_ms()))

    async def play_minute(self, native: str, row: CandleRow) -> None:
        """A window's pushes: the opening push, a partial push, a trade, a ticker
        (mark price and funding on futures), then the window's final push. No close
        flag: the next window's opening push closes it. The clock ends at the close."""
        await self.open_window(native, row)
        self.set_now(row.open_time + 30_000)
        partial = CandleRow(row.open_time, row.open, max(row.open, row.close), min(row.open, row.close), row.close,
                            row.volume / 2)
        await self.publish(self.kline_topic(native), self.candle_push(native, partial, self.now_ms()))
        await self.publish(*self.trade(native, row.close, 0.01, self.now_ms(), taker_sells=row.close < row.open))
        await self.publish(*self.ticker(native, row.low, row.high, self.now_ms()))
        if self.market == "futures":
            topic = f"/contract/instrument:{native}"
            await self.publish(topic, msgspec.json.encode({
                "topic": topic, "type": "message", "subject": "mark.index.price",
                "data": {"markPrice": row.close, "indexPrice": row.close, "granularity": 1000,
                         "timestamp": self.now_ms()}}).decode())
            await self.publish(topic, msgspec.json.encode({
                "topic": topic, "type": "message", "subject": "funding.rate",
                "data": {"granularity": 60000, "fundingRate": 0.0001, "timestamp": self.now_ms()}}).decode())
        self.add_candles(native, [row])
        self.set_now(row.close_time - 500)
        await self.publish(self.kline_topic(native), self.candle_push(native, row, self.now_ms()))
        self.set_now(row.close_time + 1)

    # ---- REST ---------------------------------------------------------------
    def rest_routes(self) -> list[tuple[str, str, Any]]:
        routes: list[tuple[str, str, Any]] = [("POST", "/api/v1/bullet-public", self._bullet)]
        if self.market == "spot":
            return routes + [("GET", "/api/v2/symbols", self._symbols), ("GET", "/api/v1/symbols", self._symbols),
                             ("GET", "/api/v1/market/candles", self._spot_candles),
                             ("GET", "/api/v1/market/allTickers", self._all_tickers)]
        return routes + [("GET", "/api/v1/contracts/active", self._contracts),
                         ("GET", "/api/v1/kline/query", self._kline_query),
                         ("GET", "/api/v1/allTickers", self._futures_tickers)]

    async def _bullet(self, request: web.Request) -> web.Response:
        token = f"fake-token-{len(self.tokens)}"
        self.tokens.append(token)
        return json_response({"code": "200000", "data": {"token": token, "instanceServers": [
            {"endpoint": self.ws_url + "/", "encrypt": False, "protocol": "websocket", "pingInterval": 18000,
             "pingTimeout": 10000}]}})

    def _last(self, native: str) -> float:
        store = self.candles.get(native, {})
        return store[max(store)].close if store else 1.0

    async def _symbols(self, request: web.Request) -> web.Response:
        return json_response({"code": "200000", "data": [
            {"symbol": n, "name": n, "baseCurrency": b, "quoteCurrency": q, "feeCurrency": q, "market": "USDS",
             "baseMinSize": "0.00001", "quoteMinSize": "0.1", "baseMaxSize": "10000000000",
             "quoteMaxSize": "99999999", "baseIncrement": "0.00000001", "quoteIncrement": "0.000001",
             "priceIncrement": "0.1", "priceLimitRate": "0.1", "minFunds": "0.1", "isMarginEnabled": False,
             "enableTrading": True} for n, (b, q) in self.symbols.items()]})

    async def _contracts(self, request: web.Request) -> web.Response:
        return json_response({"code": "200000", "data": [
            {"symbol": n, "rootSymbol": q, "type": "FFWCSX", "firstOpenDate": 1585555200000, "expireDate": None,
             "settleDate": None, "baseCurrency": "XBT" if b == "BTC" else b, "quoteCurrency": q, "settleCurrency": q,
             "maxOrderQty": 1000000, "maxPrice": 1000000.0, "lotSize": 1, "tickSize": 0.1, "indexPriceTickSize": 0.01,
             "multiplier": MULTIPLIER, "initialMargin": 0.008, "maintainMargin": 0.004, "maxRiskLimit": 100000,
             "minRiskLimit": 100000, "riskStep": 50000, "makerFeeRate": 0.0002, "takerFeeRate": 0.0006,
             "isDeleverage": True, "isQuanto": False, "isInverse": False, "markMethod": "FairPrice",
             "fairMethod": "FundingRate", "status": "Open", "fundingFeeRate": 0.0001,
             "nextFundingRateTime": 17990, "maxLeverage": 125, "lastTradePrice": self._last(n),
             "volumeOf24h": 1000, "turnoverOf24h": self.quote_volume_24h[n]}
            for n, (b, q) in self.symbols.items()]})

    def _window(self, native: str, start: int, end: int, limit: int) -> tuple[list[CandleRow], CandleRow | None]:
        rows = self.closed_candles(native, start, end, limit)
        current = self.now_ms() // MINUTE_MS * MINUTE_MS
        store = self.candles.get(native, {})
        partial = None
        if start <= current <= end and store and current not in store and current > max(store) and len(rows) < limit:
            c = store[max(store)].close
            partial = CandleRow(current, c, c, c, c, 0.0)
        return rows, partial

    async def _spot_candles(self, request: web.Request) -> web.Response:
        q = request.query
        native = q.get("symbol", "")
        if native not in self.symbols or q.get("type") != "1min":
            return json_response({"code": "400100", "msg": "invalid symbol or type"}, status=400)
        start = int(q.get("startAt", "0")) * 1000
        end = int(q.get("endAt", str(self.now_ms() // 1000))) * 1000
        rows, partial = self._window(native, start, end, 1500)
        if partial is not None:
            rows = [*rows, partial]
        data = [[str(r.open_time // 1000), _s(r.open), _s(r.close), _s(r.high), _s(r.low), _s(r.volume),
                  _s(r.quote_volume)] for r in reversed(rows)]  # newest first, like KuCoin
        return json_response({"code": "200000", "data": data})

    async def _kline_query(self, request: web.Request) -> web.Response:
        q = request.query
        native = q.get("symbol", "")
        if native not in self.symbols or q.get("granularity") != "1":
            return json_response({"code": "400100", "msg": "invalid symbol or granularity"}, status=400)
        start = int(q.get("from", "0"))
        end = int(q.get("to", str(self.now_ms())))
        rows, partial = self._window(native, start, end, 200)  # KuCoin futures returns at most 200
        if partial is not None:
            rows = [*rows, partial]
        return json_response({"code": "200000", "data": [
            [r.open_time, r.open, r.high, r.low, r.close, contracts(r.volume), r.quote_volume] for r in rows]})

    async def _all_tickers(self, request: web.Request) -> web.Response:
        return json_response({"code": "200000", "data": {"time": self.now_ms(), "ticker": [
            {"symbol": n, "symbolName": n, "buy": _s(self._last(n)), "sell": _s(self._last(n)), "changeRate": "0",
             "changePrice": "0", "high": _s(self._last(n)), "low": _s(self._last(n)),
             "vol": _s(self.quote_volume_24h[n] / self._last(n)), "volValue": _s(self.quote_volume_24h[n]),
             "last": _s(self._last(n)), "averagePrice": _s(self._last(n)), "takerFeeRate": "0.001",
             "makerFeeRate": "0.001", "takerCoefficient": "1", "makerCoefficient": "1"}
            for n in self.symbols]}})

    async def _futures_tickers(self, request: web.Request) -> web.Response:
        return json_response({"code": "200000", "data": [
            {"sequence": 1, "symbol": n, "side": "buy", "size": 1, "tradeId": "1", "price": _s(self._last(n)),
             "bestBidPrice": _s(self._last(n)), "bestBidSize": 1, "bestAskPrice": _s(self._last(n)),
             "bestAskSize": 1, "ts": self.now_ms() * 1_000_000} for n in self.symbols]})
