"""Fake MEXC (spot or USDT-M contracts) on loopback.

Spot (``wss://wbs-api.mexc.com/ws``): ``{"method": "SUBSCRIPTION" |
"UNSUBSCRIPTION", "params": [...], "id"}`` answered ``{"id", "code": 0, "msg":
"<channels>"}`` (an unknown channel: ``"Not Subscribed successfully! [...]
Reason： Blocked!"``), ``{"method": "PING"}`` answered ``{"id": 0, "code": 0,
"msg": "PONG"}``; data frames are BINARY protobuf ``PushDataV3ApiWrapper``
messages, written by :func:`encode_push`, a wire-level encoder that does not
use the ``protobuf`` package (so the venue's descriptors are checked against
an independent encoding of MEXC's published field numbers).

Contracts (``wss://contract.mexc.com/edge``): ``{"method": "sub.<kind>",
"param": {"symbol", ...}}`` answered ``{"channel": "rs.sub.<kind>", "data":
"success", "ts"}``, bad requests ``{"channel": "rs.error", ...}``,
``{"method": "ping"}`` answered ``{"channel": "pong", "data": <ms>}``; data
frames ``{"symbol", "data", "channel": "push.<kind>", "ts"}`` (deals as a
list with trade ids ``i``, the live layout).

REST serves what ccxt's ``mexc`` calls: ``/api/v3/exchangeInfo``,
``/api/v3/ticker/24hr``, ``/api/v3/klines`` (spot) and
``/api/v1/contract/detail``, ``/api/v1/contract/ticker``,
``/api/v1/contract/kline/{symbol}`` (contracts); ccxt always loads both
market lists, so each fake answers the other one empty. Kline pushes are built
from real candles: the running window pushed as it changes, no close flag.
"""

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

#: Contract size of every fake perpetual (MEXC's ``contractSize``).
CONTRACT_SIZE = 0.0001

KLINE = "spot@public.kline.v3.api.pb@{s}@Min1"
DEALS = "spot@public.aggre.deals.v3.api.pb@100ms@{s}"
BOOK = "spot@public.aggre.bookTicker.v3.api.pb@100ms@{s}"
CONTRACT_KINDS = ("kline", "deal", "depth.full", "ticker", "funding.rate")


def _s(x: float) -> str:
    return f"{x:.8f}".rstrip("0").rstrip(".")


def contracts(volume: float) -> int:
    return round(volume / CONTRACT_SIZE)


def in_base(volume: float) -> float:
    """What a client publishes for ``volume`` sent as whole contracts: back in base currency."""
    return base_units(contracts(volume), CONTRACT_SIZE)


# ---- protobuf wire encoding (independent of the protobuf package) ----------------------

def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64  # int64 negatives: ten-byte two's complement
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field_varint(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value) if value else b""


def _field_bytes(number: int, value: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def _field_str(number: int, value: str) -> bytes:
    return _field_bytes(number, value.encode()) if value else b""


#: MEXC's field numbers (github.com/mexcdevelop/websocket-proto).
KLINE_FIELDS = {"interval": 1, "windowStart": 2, "openingPrice": 3, "closingPrice": 4, "highestPrice": 5,
                "lowestPrice": 6, "volume": 7, "amount": 8, "windowEnd": 9}
DEAL_FIELDS = {"price": 1, "quantity": 2, "tradeType": 3, "time": 4, "tradeId": 5}
BOOK_FIELDS = {"bidPrice": 1, "bidQuantity": 2, "askPrice": 3, "askQuantity": 4}
BODY_FIELDS = {"publicDeals": 301, "publicLimitDepths": 303, "publicSpotKline": 308, "publicAggreDepths": 313,
               "publicAggreDeals": 314, "publicAggreBookTicker": 315}


def _message(fields: dict[str, int], values: dict[str, Any]) -> bytes:
    out = b""
    for name, value in values.items():
        number = fields[name]
        out += _field_str(number, value) if isinstance(value, str) else _field_varint(number, int(value))
    return out


def encode_push(channel: str, body: str, payload: dict[str, Any] | bytes, *, symbol: str = "",
                symbol_id: str = "", create_time: int = 0, send_time: int = 0) -> bytes:
    """A ``PushDataV3ApiWrapper``. ``payload``: the body's fields by MEXC name
    (``{"deals": [{...}], "eventType": ...}`` for deals), or its raw bytes."""
    if isinstance(payload, bytes):
        inner = payload
    elif body == "publicSpotKline":
        inner = _message(KLINE_FIELDS, payload)
    elif body == "publicAggreBookTicker":
        inner = _message(BOOK_FIELDS, payload)
    elif body == "publicAggreDeals":
        inner = b"".join(_field_bytes(1, _message(DEAL_FIELDS, d)) for d in payload["deals"])
        inner += _field_str(2, payload.get("eventType", ""))
    else:
        raise ValueError(f"encode_push: no encoder for body {body!r}; pass its bytes")
    return (_field_str(1, channel) + _field_str(3, symbol) + _field_str(4, symbol_id)
            + _field_varint(5, create_time) + _field_varint(6, send_time) + _field_bytes(BODY_FIELDS[body], inner))


def push_from_doc(doc: dict[str, Any]) -> bytes:
    """A push frame from its JSON rendering in MEXC's documentation (keys
    lower-cased there: ``publicspotkline``, ``windowstart``...; ``dealsList``)."""
    lower = {k.lower(): v for k, v in doc.items()}
    bodies = {"publicspotkline": ("publicSpotKline", KLINE_FIELDS), "publicaggredeals": ("publicAggreDeals", None),
              "publicdeals": ("publicAggreDeals", None),
              "publicbookticker": ("publicAggreBookTicker", BOOK_FIELDS),
              "publicaggrebookticker": ("publicAggreBookTicker", BOOK_FIELDS)}
    for key, (body, fields) in bodies.items():
        if key in lower:
            raw = lower[key]
            if fields is None:
                items = raw.get("dealsList") or raw.get("deals") or []
                payload: dict[str, Any] = {"deals": [_by_field_name(DEAL_FIELDS, d) for d in items],
                                           "eventType": raw.get("eventtype", raw.get("eventType", ""))}
            else:
                payload = _by_field_name(fields, raw)
            return encode_push(lower["channel"], body, payload, symbol=lower.get("symbol", ""),
                               symbol_id=lower.get("symbolid", ""), create_time=int(lower.get("createtime", 0)),
                               send_time=int(lower.get("sendtime", 0)))
    raise ValueError(f"push_from_doc: no known body in {sorted(doc)}")


def _by_field_name(fields: dict[str, int], raw: dict[str, Any]) -> dict[str, Any]:
    names = {n.lower(): n for n in fields}
    return {names[k.lower()]: v for k, v in raw.items() if k.lower() in names}


class FakeMexc(FakeExchange):
    """``market`` is "spot" or "futures" (USDT-M perpetuals)."""

    def __init__(self, market: str = "spot", *, max_streams_per_connection: int | None = None,
                 max_msgs_per_second: float = 20.0, **kw: Any) -> None:
        if market not in ("spot", "futures"):
            raise ValueError(f"FakeMexc market must be spot or futures, got {market!r}")
        limit = max_streams_per_connection or (30 if market == "spot" else 100)
        super().__init__(max_streams_per_connection=limit, max_msgs_per_second=max_msgs_per_second,
                         ping_interval_s=None, **kw)
        self.market = market
        self.symbols: dict[str, tuple[str, str]] = {}
        self.quote_volume_24h: dict[str, float] = {}
        self.trade_ids: dict[str, int] = {}
        self.requests: list[dict[str, Any]] = []
        self.pings = 0

    def native(self, base: str, quote: str) -> str:
        return f"{base}{quote}" if self.market == "spot" else f"{base}_{quote}"

    def list_symbol(self, base: str, quote: str, quote_volume_24h: float = 1e6) -> str:
        native = self.native(base, quote)
        self.symbols[native] = (base, quote)
        self.quote_volume_24h[native] = quote_volume_24h
        return native

    def contract_size(self, native: str) -> float:
        """Base units per contract of ``native`` (``contractSize`` in the contract details)."""
        return CONTRACT_SIZE

    # ---- websocket protocol -------------------------------------------------
    async def on_client_message(self, client: FakeClient, text: str) -> None:
        try:
            req = msgspec.json.decode(text)
            method = req["method"]
        except (msgspec.DecodeError, KeyError, TypeError):
            await self._reject(client, {}, "invalid request")
            return
        self.requests.append(req)
        if self.market == "spot":
            await self._spot_request(client, req, method)
        else:
            await self._contract_request(client, req, method)

    async def _reject(self, client: FakeClient, req: dict[str, Any], why: str) -> None:
        if self.market == "spot":
            await client.ws.send(msgspec.json.encode({"id": req.get("id", 0), "code": 0, "msg": why}).decode())
        else:
            await client.ws.send(msgspec.json.encode({"channel": "rs.error", "data": why,
                                                      "ts": self.now_ms()}).decode())

    def _spot_channel_ok(self, channel: str) -> bool:
        parts = channel.split("@")
        if len(parts) != 4 or parts[0] != "spot":
            return False
        if parts[1] == "public.kline.v3.api.pb":
            return parts[2] in self.symbols and parts[3] == "Min1"
        return (parts[1] in ("public.aggre.deals.v3.api.pb", "public.aggre.bookTicker.v3.api.pb")
                and parts[2] in ("100ms", "10ms") and parts[3] in self.symbols)

    async def _spot_request(self, client: FakeClient, req: dict[str, Any], method: str) -> None:
        rid = req.get("id", 0)
        if method == "PING":
            self.pings += 1
            await client.ws.send('{"id":0,"code":0,"msg":"PONG"}')
            return
        params = req.get("params")
        if method not in ("SUBSCRIPTION", "UNSUBSCRIPTION") or not isinstance(params, list):
            await self._reject(client, req, f"unknown method {method}")
            return
        bad = [p for p in params if not self._spot_channel_ok(str(p))]
        if bad and method == "SUBSCRIPTION":
            await client.ws.send(msgspec.json.encode({"id": rid, "code": 0, "msg": (
                f"Not Subscribed successfully! [{','.join(bad)}].  Reason： Blocked! ")}).decode())
        good = [p for p in params if p not in bad]
        if method == "SUBSCRIPTION":
            client.streams.update(good)
        else:
            client.streams.difference_update(good)
        if good:
            await client.ws.send(msgspec.json.encode({"id": rid, "code": 0, "msg": ",".join(good)}).decode())

    async def _contract_request(self, client: FakeClient, req: dict[str, Any], method: str) -> None:
        if method == "ping":
            self.pings += 1
            await client.ws.send(msgspec.json.encode({"channel": "pong", "data": self.now_ms()}).decode())
            return
        verb, _, kind = method.partition(".")
        param = req.get("param") or {}
        symbol = param.get("symbol") if isinstance(param, dict) else None
        if verb not in ("sub", "unsub") or kind not in CONTRACT_KINDS:
            await self._reject(client, req, f"method {method} not support")
            return
        if symbol not in self.symbols:
            await self._reject(client, req, f"contract {symbol} not exists")
            return
        if verb == "sub" and kind == "kline" and param.get("interval") != "Min1":
            await self._reject(client, req, f"interval {param.get('interval')} not support")
            return
        stream = f"{kind}:{symbol}"
        if verb == "sub":
            client.streams.add(stream)
        else:
            client.streams.discard(stream)
        await client.ws.send(msgspec.json.encode({"channel": f"rs.{method}", "data": "success",
                                                  "ts": self.now_ms()}).decode())

    def wrap(self, stream: str, payload: Any) -> Any:
        if isinstance(payload, bytes):
            return payload
        kind, _, symbol = stream.partition(":")
        return msgspec.json.encode({"symbol": symbol, "data": payload, "channel": f"push.{kind}",
                                    "ts": self.now_ms()}).decode()

    # ---- frames in MEXC's layouts --------------------------------------------------
    def kline_stream(self, native: str) -> str:
        return KLINE.format(s=native) if self.market == "spot" else f"kline:{native}"

    def kline_push(self, native: str, row: CandleRow) -> Any:
        """The running window ``row`` as MEXC pushes it (sent at the fake's clock)."""
        if self.market == "spot":
            return encode_push(KLINE.format(s=native), "publicSpotKline", {
                "interval": "Min1", "windowStart": row.open_time // 1000, "openingPrice": _s(row.open),
                "closingPrice": _s(row.close), "highestPrice": _s(row.high), "lowestPrice": _s(row.low),
                "volume": _s(row.volume), "amount": _s(row.quote_volume),
                "windowEnd": row.open_time // 1000 + 60}, symbol=native, symbol_id="2fb942154ef44a4ab2ef98c8afb6a4a7",
                create_time=self.now_ms(), send_time=self.now_ms())
        return {"symbol": native, "interval": "Min1", "t": row.open_time // 1000, "o": row.open, "c": row.close,
                "h": row.high, "l": row.low, "a": row.quote_volume, "q": contracts(row.volume), "ro": row.open,
                "rc": row.close, "rh": row.high, "rl": row.low}

    def trade(self, native: str, price: float, qty: float, ts: int, taker_sells: bool) -> tuple[str, Any]:
        tid = self.trade_ids.get(native, 16270106116) + 1
        self.trade_ids[native] = tid
        side = 2 if taker_sells else 1
        if self.market == "spot":
            stream = DEALS.format(s=native)
            return stream, encode_push(stream, "publicAggreDeals", {
                "deals": [{"price": _s(price), "quantity": _s(qty), "tradeType": side, "time": ts}],
                "eventType": "spot@public.aggre.deals.v3.api.pb@100ms"}, symbol=native, send_time=ts + 1)
        return f"deal:{native}", [{"p": price, "v": max(1, contracts(qty)), "T": side, "O": 3, "M": 2, "t": ts,
                                   "i": str(tid)}]

    def quote(self, native: str, bid: float, ask: float, ts: int) -> tuple[str, Any]:
        if self.market == "spot":
            stream = BOOK.format(s=native)
            return stream, encode_push(stream, "publicAggreBookTicker", {
                "bidPrice": _s(bid), "bidQuantity": "1.5", "askPrice": _s(ask), "askQuantity": "2"},
                symbol=native, send_time=ts)
        return f"depth.full:{native}", {"cts": ts, "asks": [[ask, 20000, 2], [ask * 1.001, 5000, 1]],
                                        "bids": [[bid, 15000, 3], [bid * 0.999, 4000, 1]], "version": ts // 7}

    def ticker(self, native: str, last: float, ts: int) -> dict[str, Any]:
        return {"symbol": native, "lastPrice": last, "riseFallRate": 0.0031, "fairPrice": last, "indexPrice": last,
                "volume24": 557904490, "amount24": self.quote_volume_24h[native], "maxBidPrice": last * 1.1,
                "minAskPrice": last * 0.9, "lower24Price": last, "high24Price": last, "timestamp": ts,
                "bid1": last, "ask1": last, "holdVol": 22030280, "riseFallValue": 1.5, "fundingRate": 0.0001,
                "zone": "UTC+8", "riseFallRates": [], "riseFallRatesOfTimezone": []}

    async def open_window(self, native: str, row: CandleRow) -> None:
        """The first push of a window (it also tells a client the previous window closed)."""
        self.set_now(row.open_time + 1_000)
        first = CandleRow(row.open_time, row.open, row.open, row.open, row.open, row.volume / 10)
        await self.publish(self.kline_stream(native), self.kline_push(native, first))

    async def send_trade(self, native: str, price: float, ts: int) -> None:
        """One trade at ``ts`` (moves the exchange's clock as any frame does)."""
        self.set_now(ts)
        await self.publish(*self.trade(native, price, 0.01, ts, taker_sells=False))

    async def play_minute(self, native: str, row: CandleRow) -> None:
        """A window's pushes: the opening push, a partial push, a trade, a best
        bid/ask (ticker and funding rate on contracts), then the window's final
        push. No close flag. The clock ends just after the window."""
        await self.open_window(native, row)
        self.set_now(row.open_time + 30_000)
        partial = CandleRow(row.open_time, row.open, max(row.open, row.close), min(row.open, row.close), row.close,
                            row.volume / 2)
        await self.publish(self.kline_stream(native), self.kline_push(native, partial))
        await self.publish(*self.trade(native, row.close, 0.01, self.now_ms(), taker_sells=row.close < row.open))
        await self.publish(*self.quote(native, row.low, row.high, self.now_ms()))
        if self.market == "futures":
            await self.publish(f"ticker:{native}", self.ticker(native, row.close, self.now_ms()))
            await self.publish(f"funding.rate:{native}", {"symbol": native, "rate": 0.0001,
                                                          "nextSettleTime": row.open_time + 8 * 3_600_000})
        self.add_candles(native, [row])
        self.set_now(row.close_time - 500)
        await self.publish(self.kline_stream(native), self.kline_push(native, row))
        self.set_now(row.close_time + 1)

    # ---- REST ---------------------------------------------------------------
    def rest_routes(self) -> list[tuple[str, str, Any]]:
        return [("GET", "/api/v3/exchangeInfo", self._exchange_info),
                ("GET", "/api/v3/ticker/24hr", self._spot_tickers),
                ("GET", "/api/v3/klines", self._spot_klines),
                ("GET", "/api/v1/contract/detail", self._contract_detail),
                ("GET", "/api/v1/contract/ticker", self._contract_tickers),
                ("GET", "/api/v1/contract/kline/{symbol}", self._contract_klines)]

    def _last(self, native: str) -> float:
        store = self.candles.get(native, {})
        return store[max(store)].close if store else 1.0

    def _window(self, native: str, start: int, end: int, limit: int) -> list[CandleRow]:
        """Candles opened in [start, end), oldest first, plus the window in
        progress with partial values (as MEXC returns it)."""
        rows = [r for r in self.closed_candles(native, start, end - 1, limit)]
        current = self.now_ms() // MINUTE_MS * MINUTE_MS
        store = self.candles.get(native, {})
        if start <= current < end and store and current not in store and current > max(store) and len(rows) < limit:
            c = store[max(store)].close
            rows.append(CandleRow(current, c, c, c, c, 0.0))
        return rows

    async def _exchange_info(self, request: web.Request) -> web.Response:
        symbols = [] if self.market != "spot" else [
            {"symbol": n, "status": "1", "baseAsset": b, "baseAssetPrecision": 6, "quoteAsset": q,
             "quotePrecision": 2, "quoteAssetPrecision": 2, "baseCommissionPrecision": 6,
             "quoteCommissionPrecision": 2, "orderTypes": ["LIMIT", "MARKET", "LIMIT_MAKER"],
             "isSpotTradingAllowed": True, "isMarginTradingAllowed": False, "quoteAmountPrecision": "1.000000000000000000",
             "baseSizePrecision": "0", "permissions": ["SPOT"], "filters": [], "maxQuoteAmount": "2000000.000000000000000000",
             "makerCommission": "0", "takerCommission": "0.0005", "quoteAmountPrecisionMarket": "1.000000000000000000",
             "maxQuoteAmountMarket": "100000.000000000000000000", "fullName": b, "tradeSideType": 1}
            for n, (b, q) in self.symbols.items()]
        return json_response({"timezone": "CST", "serverTime": self.now_ms(), "rateLimits": [],
                              "exchangeFilters": [], "symbols": symbols})

    async def _spot_tickers(self, request: web.Request) -> web.Response:
        return json_response([
            {"symbol": n, "priceChange": "0", "priceChangePercent": "0", "prevClosePrice": _s(self._last(n)),
             "lastPrice": _s(self._last(n)), "bidPrice": _s(self._last(n)), "bidQty": "1",
             "askPrice": _s(self._last(n)), "askQty": "1", "openPrice": _s(self._last(n)),
             "highPrice": _s(self._last(n)), "lowPrice": _s(self._last(n)),
             "volume": _s(self.quote_volume_24h[n] / self._last(n)), "quoteVolume": _s(self.quote_volume_24h[n]),
             "openTime": self.now_ms() - 86_400_000, "closeTime": self.now_ms(), "count": None}
            for n in self.symbols] if self.market == "spot" else [])

    async def _spot_klines(self, request: web.Request) -> web.Response:
        q = request.query
        native = q.get("symbol", "")
        if native not in self.symbols or q.get("interval") != "1m":
            return json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        limit = min(int(q.get("limit", "500")), 1000)
        end = int(q.get("endTime", str(self.now_ms() + MINUTE_MS)))
        start = int(q.get("startTime", str(end - limit * MINUTE_MS)))
        rows = self._window(native, start, end, limit)
        return json_response([[r.open_time, _s(r.open), _s(r.high), _s(r.low), _s(r.close), _s(r.volume),
                               r.open_time + MINUTE_MS, _s(r.quote_volume)] for r in rows])

    async def _contract_detail(self, request: web.Request) -> web.Response:
        data = [] if self.market != "futures" else [
            {"symbol": n, "displayName": f"{b}_{q} PERPETUAL", "displayNameEn": f"{b}_{q} PERPETUAL",
             "positionOpenType": 3, "baseCoin": b, "quoteCoin": q, "settleCoin": q, "contractSize": CONTRACT_SIZE,
             "minLeverage": 1, "maxLeverage": 500, "priceScale": 1, "volScale": 0, "amountScale": 4,
             "priceUnit": 0.1, "volUnit": 1, "minVol": 1, "maxVol": 1000000, "bidLimitPriceRate": 0.1,
             "askLimitPriceRate": 0.1, "takerFeeRate": 0.0002, "makerFeeRate": 0, "maintenanceMarginRate": 0.004,
             "initialMarginRate": 0.008, "state": 0, "isNew": False, "isHot": True, "isHidden": False,
             "indexOrigin": ["BINANCE", "GATEIO", "MEXC"], "apiAllowed": True}
            for n, (b, q) in self.symbols.items()]
        return json_response({"success": True, "code": 0, "data": data})

    async def _contract_tickers(self, request: web.Request) -> web.Response:
        data = [self.ticker(n, self._last(n), self.now_ms()) for n in self.symbols] if self.market == "futures" else []
        return json_response({"success": True, "code": 0, "data": data})

    async def _contract_klines(self, request: web.Request) -> web.Response:
        native = request.match_info["symbol"]
        q = request.query
        if native not in self.symbols or q.get("interval") != "Min1":
            return json_response({"success": False, "code": 1001, "message": "contract not exists or bad interval"})
        end = int(q["end"]) * 1000 + 1 if "end" in q else self.now_ms() + MINUTE_MS
        start = int(q["start"]) * 1000 if "start" in q else end - 2000 * MINUTE_MS
        rows = self._window(native, start, end, 2000)
        return json_response({"success": True, "code": 0, "data": {
            "time": [r.open_time // 1000 for r in rows], "open": [r.open for r in rows],
            "close": [r.close for r in rows], "high": [r.high for r in rows], "low": [r.low for r in rows],
            "vol": [float(contracts(r.volume)) for r in rows], "amount": [r.quote_volume for r in rows],
            "realOpen": [r.open for r in rows], "realClose": [r.close for r in rows],
            "realHigh": [r.high for r in rows], "realLow": [r.low for r in rows]}})
