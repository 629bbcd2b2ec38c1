"""OKX v5 spot / swap for the venue contract: two endpoints (candles on
``/ws/v5/business``, the rest on ``/ws/v5/public``), ``op`` subscribe /
unsubscribe with ``{"channel", "instId"}`` args, the text ``ping``, close flag
``confirm``, swap sizes in contracts converted to base by ``ctVal``. Frames:
the real capture ``cryptofeed/OKX.ws.1.0`` (read in place) and OKX's
documented pushes under tests/connectors/resources/okx/."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from connectors.base import Connector, MemoryPublisher, VenueConfig
from connectors.base.venue import Venue
from connectors.okx import OkxSpotVenue, OkxSwapVenue
from connectors.records import SubscribeAck
from streams import topics
from streams.records import Candle, FundingRate, OpenInterest, Quote, Tick
from tests.connectors.fakes.adapter import (
    BadFrame,
    DecodeCase,
    Expect,
    LimitsCase,
    Malformed,
    Request,
    Step,
    VenueAdapter,
    accepted,
    case,
    replaced,
    resource,
    small_limits,
)
from tests.connectors.fakes.exchange import CandleRow, FakeClient
from tests.connectors.fakes.okx import BUSINESS_PATH, PUBLIC_PATH, FakeOkx
from tests.market import market_file


def frame(name: str) -> str:
    return resource("okx", name)


def captured() -> list[tuple[str, dict[str, Any]]]:
    """(raw frame, decoded) of every frame OKX sent in the capture (connect and send lines skipped)."""
    out = []
    for line in market_file("cryptofeed/OKX.ws.1.0").read_text().splitlines():
        if not line.strip() or line.startswith("wss://"):
            continue
        raw = line.partition(": ")[2]
        out.append((raw, json.loads(raw)))
    return out


def pushes(channel: str, inst: str) -> list[tuple[str, dict[str, Any]]]:
    return [(raw, d) for raw, d in captured() if "data" in d and d["arg"] == {"channel": channel, "instId": inst}]


def _acks() -> list[DecodeCase]:
    subscribed = next(raw for raw, d in captured() if d.get("event") == "subscribe")
    return [case("subscribe ack", subscribed, accepted(None)),
            case("unsubscribe ack", frame("unsubscribe_ack.json"), accepted(None)),
            case("error", frame("error_wrong_url.json"), Expect(SubscribeAck, {
                "id": None, "ok": False, "detail": "code 60018: Wrong URL or channel:candle1m,instId:BTC-USDT doesn't "
                "exist. Please use the correct URL, channel and parameters referring to API document."})),
            case("notice", frame("notice_service_upgrade.json")),
            case("pong", "pong"), case("binary pong", b"pong")]


@dataclass
class OkxAdapter(VenueAdapter):
    refusal: str | None = "60018"

    def list_symbol(self, fake: FakeOkx, base: str, quote: str = "USDT") -> str:
        return fake.list_symbol(base, quote, ct_val=0.01 if base == "BTC" else 1.0)

    def venue_config(self, fake: FakeOkx, cls: type[Venue]) -> VenueConfig:
        return VenueConfig(fake.ws_url, fake.rest_url, channels=cls().config.channels,
                           extra_ws_urls={"business": fake.business_ws_url})

    def url_key_of(self, client: FakeClient) -> str:
        return "business" if client.path == BUSINESS_PATH else ""

    def parse_request(self, text: str) -> Request:
        if text == "ping":
            return Request("ping")
        req = json.loads(text)
        op = req.get("op")
        streams = tuple(f"{a['channel']}:{a['instId']}" for a in req.get("args") or ())
        return Request(op, streams) if op in ("subscribe", "unsubscribe") else Request("other")

    def malformed(self, fake: FakeOkx, native: str, rows: list[CandleRow]) -> list[Malformed]:
        candle, trades = f"candle1m:{native}", f"trades:{native}"
        truncated = '{"arg":{"channel":"candle1m","instId":"' + native + '"},"data":[["1'
        open_price = fake.candle_row(native, rows[0], confirm=True)[1]
        bad_price = replaced(fake.wrap(candle, fake.candle_payload(native, rows[0], confirm=True)),
                             f'"{open_price}"', '"NaN?"', count=1)  # the open only, not an equal close
        bad_side = replaced(fake.wrap(trades, fake.trade_payload(native, 1.0, 0.01, 1, "buy")), '"buy"', '"b"')
        return [Malformed(candle, truncated, "malformed_json"),
                Malformed(candle, bad_price, "bad_number", names_symbol=True),
                Malformed(trades, bad_side, "bad_side")]

    def limits_case(self) -> LimitsCase:
        """OKX's 3 new connections per second per IP hold too (the fake refuses a fourth)."""
        per_conn, per_request = (4, 3) if self.fake_market == "SPOT" else (10, 4)
        cls = small_limits(self.venue_cls, streams_per_connection=per_conn, streams_per_subscribe=per_request,
                           client_msgs_per_second=3.0)
        return LimitsCase(cls, {"max_streams_per_connection": per_conn, "max_msgs_per_second": 4.0}, first=3)

    def decode_cases(self) -> list[DecodeCase]:
        if self.fake_market == "SPOT":
            (trade_raw, _), (ticker_raw, _) = pushes("trades", "BTC-USDT")[0], pushes("tickers", "BTC-USDT")[0]
            return [
                *_acks(),
                case("closed candle", frame("spot_candle1m_closed.json"), Expect(Candle, {
                    "symbol": "BTC/USDT", "open_time": 1597026360000, "close_time": 1597026419999,
                    "event_time": 1597026420000, "received_at": 1597026420100, "open": 8533.02, "high": 8553.74,
                    "low": 8527.17, "close": 8548.26, "volume": 45247.0, "quote_volume": 529.5858061}),
                     received_at=1597026420100),
                case("open candle", frame("spot_candle1m_open.json")),
                case("captured trade", trade_raw, Expect(Tick, {
                    "symbol": "BTC/USDT", "trade_id": "338476307", "price": 30236.0, "qty": 0.0002, "side": "buy",
                    "event_time": 1652459224818})),
                case("captured ticker", ticker_raw, Expect(Quote, {
                    "symbol": "BTC/USDT", "bid": 30228.6, "bid_qty": 0.23393, "ask": 30228.7, "ask_qty": 1.55896972,
                    "event_time": 1652459224956}))]
        by_channel = {ch: pushes(ch, "UNI-USD-SWAP")[0][0] for ch in ("trades", "tickers")}
        return [
            *_acks(),
            case("closed candle", frame("swap_candle1m_closed.json"), Expect(Candle, {  # volume: volCcy, in base
                "symbol": "BTC/USDT", "volume": 452.47, "quote_volume": 3866243.2})),
            case("open candle", replaced(frame("swap_candle1m_closed.json"), '"1"]]', '"0"]]')),
            # the capture's only swap is coin-margined UNI-USD-SWAP (same layout as USDT swaps):
            # mapped with a contract value of 10, sizes come out as contracts x ctVal
            case("captured trade", by_channel["trades"], Expect(Tick, {
                "symbol": "UNI/USD", "trade_id": "12883020", "price": 5.123, "qty": 1000.0, "side": "sell",
                "event_time": 1652459215150})),
            case("captured ticker", by_channel["tickers"], Expect(Quote, {
                "bid": 5.134, "bid_qty": 960.0, "ask": 5.142, "ask_qty": 250.0, "event_time": 1652459223143})),
            # funding without a mark price is held; the mark price publishes both
            DecodeCase("mark price and funding merge", (Step(frame("swap_funding_rate.json")), Step(
                frame("swap_mark_price.json"), (Expect(FundingRate, {
                    "symbol": "BTC/USDT", "mark_price": 42310.6, "index_price": None,
                    "funding_rate": 0.0001875391284828, "next_funding_time": 1700726400000,
                    "event_time": 1630049139746}),), received_at=2))),
            case("open interest", frame("swap_open_interest.json"), Expect(OpenInterest, {  # oiCcy, in base
                "symbol": "BTC/USDT", "open_interest": 50.0, "open_interest_value": 2115530.0,
                "event_time": 1597026383085}), received_at=9)]

    def bad_frames(self) -> list[BadFrame]:
        truncated = BadFrame("truncated", '{"arg":{"channel":"candle1m","instId":"BTC-USDT"},"data":[["15970',
                             "malformed_json")
        if self.fake_market == "SWAP":
            trade, books = pushes("trades", "UNI-USD-SWAP")[0][0], pushes("books", "UNI-USD-SWAP")[0][0]
            candle = frame("swap_candle1m_closed.json")
            return [truncated,
                    BadFrame("books", books, "unexpected_stream"),  # not a channel we subscribe
                    BadFrame("not an object", "[1,2]", "schema_mismatch"),
                    BadFrame("symbol", replaced(trade, '"UNI-USD-SWAP"', '"XRP-USD-SWAP"'), "unknown_symbol"),
                    BadFrame("high", replaced(candle, '"8553.74"', '"1.0"'), "high_below_low")]
        trade, ticker, candle = (pushes("trades", "BTC-USDT")[0][0], pushes("tickers", "BTC-USDT")[0][0],
                                 frame("spot_candle1m_closed.json"))
        return [
            truncated,
            BadFrame("price", replaced(trade, '"px":"30236"', '"px":"abc"'), "bad_number"),
            BadFrame("negative price", replaced(trade, '"px":"30236"', '"px":"-1"'), "non_positive_price"),
            BadFrame("time as number", replaced(trade, '"ts":"1652459224818"', '"ts":1652459224818'), "schema_mismatch"),
            BadFrame("time", replaced(trade, '"ts":"1652459224818"', '"ts":"soon"'), "bad_time"),
            BadFrame("trade id", replaced(trade, '"tradeId":"338476307"', '"tradeId":"x-1"'), "bad_trade_id"),
            BadFrame("side", replaced(trade, '"side":"buy"', '"side":"hold"'), "bad_side"),
            BadFrame("symbol", replaced(trade, '"BTC-USDT"', '"XRP-USDT"'), "unknown_symbol"),
            BadFrame("crossed", replaced(ticker, '"bidPx":"30228.6"', '"bidPx":"30300"'), "crossed_quote"),
            BadFrame("high", replaced(candle, '"8553.74"', '"1.0"'), "high_below_low"),
            BadFrame("confirm", replaced(candle, ',"1"]]', ',"2"]]'), "schema_mismatch"),
            BadFrame("short row", replaced(candle, ',"529.5858061","1"]]', ',"1"]]'), "schema_mismatch"),
            BadFrame("open time", replaced(candle, '"1597026360000"', '"1597026383085"'), "unaligned_open_time"),
            BadFrame("candle5m", replaced(candle, '"candle1m"', '"candle5m"'), "unexpected_stream"),
            BadFrame("spot has no funding", replaced(frame("swap_mark_price.json"), "BTC-USDT-SWAP", "BTC-USDT"),
                     "unexpected_stream"),
            BadFrame("login", '{"event":"login","code":"0","msg":""}', "unexpected_frame"),
            BadFrame("no arg", '{"hello":1}', "unexpected_frame"),
            BadFrame("not an object", "[1,2]", "schema_mismatch")]

    def check_replay(self, fake: FakeOkx, conn: Connector, pub: MemoryPublisher) -> None:
        # candles on business connections, every other channel on public ones, reconnects included
        assert {c.path for c in fake.all_clients} == {BUSINESS_PATH, PUBLIC_PATH}
        for client in fake.all_clients:
            assert all(s.startswith("candle1m:") == (client.path == BUSINESS_PATH) for s in client.streams)
        funding = pub.decoded(topics.FUNDING, FundingRate)
        for symbol in {f.symbol for f in funding}:
            own = [f for f in funding if f.symbol == symbol]
            assert all(f.mark_price > 0 and f.next_funding_time == FakeOkx.settlement_after(f.event_time)
                       for f in own[1:])  # after the first funding-rate push


def _spot() -> OkxAdapter:
    return OkxAdapter(OkxSpotVenue, FakeOkx, "SPOT", quote_sizes=(1.5, 3.0), refusals=3,
                      decode_symbols={"BTC/USDT": "BTC-USDT", "ETH/USDT": "ETH-USDT"})


def _swap() -> OkxAdapter:
    return OkxAdapter(OkxSwapVenue, FakeOkx, "SWAP", quote_sizes=(1.0, 2.0), funding_rate=0.0001,
                      first_funding_rate_missing=True, funding_per_minute=2, open_interest=59891.73, refusals=6,
                      decode_symbols={"BTC/USDT": "BTC-USDT-SWAP", "ETH/USDT": "ETH-USDT-SWAP", "UNI/USD": "UNI-USD-SWAP"},
                      contract_sizes={"BTC-USDT-SWAP": 0.01, "ETH-USDT-SWAP": 0.1, "UNI-USD-SWAP": 10.0})


ADAPTERS = {"okx-spot": _spot(), "okx-swap": _swap()}
