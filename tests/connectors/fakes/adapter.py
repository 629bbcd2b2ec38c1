"""What the venue contract suite needs to know about one venue and its fake.

``tests/connectors/test_venue_contract.py`` runs one contract over every venue
in ``connectors.registry.venue_names()``. What differs between venues (how
their fake starts and lists a symbol, how a window is shown closed, how a
frame is broken, what a client request names, what the captured frames decode
to) is said by a :class:`VenueAdapter` in
``tests/connectors/fakes/adapters/<exchange>.py``, which exports
``ADAPTERS = {"<venue name>": <adapter>}``. A new venue gets the whole
contract by writing its fake and that adapter.

The connector harness the contract and the per-venue tests share lives here
too: real candles, fast connector options, start/stop against a fake, replay.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from connectors.base import CcxtRest, Connector, ConnectorOptions, MemoryPublisher, VenueConfig
from connectors.base.venue import Venue
from connectors.records import SubscribeAck
from connectors.registry import venue_class
from streams import topics
from streams.records import Candle
from tests.connectors.fakes.binance import load_jesse_candles
from tests.connectors.fakes.exchange import CandleRow, FakeClient, FakeExchange
from tests.market import market_file

# ---- the connector harness -----------------------------------------------------


def jesse_candles(n: int) -> dict[str, list[CandleRow]]:
    """Real BTC and SOL 1m candles (jesse, MIT), SOL rebased onto BTC's minutes; keyed by base."""
    btc = load_jesse_candles(market_file("jesse/test_candles_indicators__test_candles_btc.csv"), n)
    sol = load_jesse_candles(market_file("jesse/test_candles_indicators__test_candles_sol.csv"), n)
    shift = btc[0].open_time - sol[0].open_time
    return {"BTC": btc, "SOL": [dataclasses.replace(r, open_time=r.open_time + shift) for r in sol]}


def fast_options(**kw: Any) -> ConnectorOptions:
    """Production logic, test-sized waits: quick backoff and backfill retries, no periodic audit."""
    base: dict[str, Any] = dict(backoff_base_s=0.05, backoff_cap_s=0.2, audit_interval_s=None,
                                backfill_retry_base_s=0.05, stale_after_s=5.0)
    return ConnectorOptions(**(base | kw))


def candles_of(pub: MemoryPublisher, symbol: str) -> list[Candle]:
    return [c for c in pub.decoded(topics.CANDLES_1M, Candle) if c.symbol == symbol]


async def play(fake: Any, series: Mapping[str, list[CandleRow]], minutes: range, pause: float = 0.005) -> None:
    """Minute by minute, every symbol of ``series`` (keyed by exchange id) plays its candle on ``fake``."""
    for i in minutes:
        for native, rows in series.items():
            await fake.play_minute(native, rows[i])
        await asyncio.sleep(pause)


async def stop_connector(conn: Connector) -> None:
    await conn.stop()
    await conn.rest.close()


# ---- what a venue's captured frames decode to ----------------------------------------

RESOURCES = Path(__file__).parents[1] / "resources"


def resource(exchange: str, name: str) -> str:
    """A captured or documented frame of ``exchange`` (tests/connectors/resources/<exchange>/<name>)."""
    return (RESOURCES / exchange / name).read_text().strip()


@dataclass(frozen=True)
class Contains:
    """An expected string field that must contain ``part`` (error details)."""

    part: str

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and self.part in other

    def __hash__(self) -> int:
        return hash(self.part)


@dataclass(frozen=True)
class Expect:
    """A record a frame must decode into: its type and the fields to compare (exactly)."""

    type: type[msgspec.Struct]
    fields: dict[str, Any]


@dataclass(frozen=True)
class Step:
    """One frame fed to ``venue.parse_frame`` and everything it must return (``()``: nothing)."""

    frame: str | bytes
    records: tuple[Expect, ...] = ()
    received_at: int = 1


@dataclass(frozen=True)
class DecodeCase:
    """Frames fed in order to one fresh venue (klines without a close flag need the next window)."""

    name: str
    steps: tuple[Step, ...]


def accepted(request_id: int | str | None) -> Expect:
    """The exchange acknowledged request ``request_id``: the :class:`SubscribeAck` exactly."""
    return Expect(SubscribeAck, {"id": request_id, "ok": True, "detail": ""})


def case(name: str, frame: str | bytes, *records: Expect, received_at: int = 1) -> DecodeCase:
    """A one-frame :class:`DecodeCase`."""
    return DecodeCase(name, (Step(frame, records, received_at),))


@dataclass(frozen=True)
class BadFrame:
    """A frame ``parse_frame`` must refuse with ``RecordError(reason)``."""

    name: str
    frame: str | bytes
    reason: str


# ---- what the live contract tests need -------------------------------------------------


@dataclass(frozen=True)
class Malformed:
    """A broken frame pushed on ``stream`` of a live connection, and the dead letter it becomes."""

    stream: str
    frame: str | bytes
    reason: str
    #: the dead letter's detail names the unified symbol (it was decoded far enough to know it)
    names_symbol: bool = False


@dataclass(frozen=True)
class Request:
    """A client message as the exchange reads it: ``op`` and the stream names it carries."""

    op: str  # "subscribe" | "unsubscribe" | "ping" | "other"
    streams: tuple[str, ...] = ()


@dataclass(frozen=True)
class LimitsCase:
    """A venue subclass with small limits and a fake that enforces them."""

    venue_cls: type[Venue]
    fake_kwargs: dict[str, Any]
    symbols: int = 10
    first: int = 6  # symbols at start; the rest arrive through ``set_symbols``


@dataclass
class VenueAdapter(ABC):
    """How the contract drives one venue (``venue_cls``) and its fake (``fake_cls(fake_market)``).

    Overridden per venue where the default is not true of it."""

    venue_cls: type[Venue]
    fake_cls: type[FakeExchange]
    fake_market: str
    #: provenance of websocket candles
    ws_provenance: str = "ws_final"
    #: no close flag: a window is published once the next one starts (or the exchange clock passes it)
    closes_on_next_window: bool = False
    #: what the fake's funding pushes carry; None: the venue streams no funding
    funding_rate: float | None = None
    #: the fake's first mark price arrives before any funding rate (the first record has none)
    first_funding_rate_missing: bool = False
    #: funding records the fake's pushes of one minute make
    funding_per_minute: int = 1
    #: the open interest the fake pushes; None: the venue streams none
    open_interest: float | None = None
    #: (bid_qty, ask_qty) of the fake's quotes and the qty of its trades, as the venue publishes them
    quote_sizes: tuple[float, float] = (1.5, 2.0)
    tick_qty: float = 0.01
    #: text every dead letter carries when the fake refuses a symbol it does not list; None: it accepts any
    refusal: str | None = None
    #: how many refusals (dead letters) one such symbol draws
    refusals: int = 1
    #: unified symbol -> exchange id of the symbols in the captured frames
    decode_symbols: dict[str, str] = field(default_factory=dict)
    #: exchange id -> contract size (base units per contract) the decode venue knows, as loading
    #: markets would teach it (futures venues; a decode symbol left out has an unknown size)
    contract_sizes: dict[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.venue_cls.name

    # ---- the fake (``fake_cls(fake_market, **limits)``) ---------------------------------------
    def list_symbol(self, fake: Any, base: str, quote: str = "USDT") -> str:
        """List ``base/quote`` on the fake; returns its exchange id."""
        return fake.list_symbol(base, quote)

    async def close_window(self, fake: Any, series: Mapping[str, list[CandleRow]], i: int) -> None:
        """Show that minute ``i`` (just played) ended, for every symbol of ``series``.
        Venues with a close flag sent it in ``play_minute``: nothing to do."""
        return None

    # ---- the venue against the fake ------------------------------------------------------
    def venue_config(self, fake: Any, cls: type[Venue]) -> VenueConfig:
        return VenueConfig(fake.ws_url, fake.rest_url, channels=cls().config.channels)

    def prepare_rest(self, rest: CcxtRest) -> None:
        """Adjust the ccxt client before markets load (default: as in production)."""
        return None

    async def start_connector(self, fake: Any, symbols: list[str], venue_cls: type[Venue] | None = None,
                              subscribed: bool = True, **opts: Any) -> tuple[Connector, MemoryPublisher]:
        """A started connector on ``symbols`` against ``fake`` (``venue_cls`` instead of the
        adapter's venue); returned once every stream is subscribed unless ``subscribed`` is False."""
        cls = venue_cls or self.venue_cls
        venue = cls(self.venue_config(fake, cls))
        rest = CcxtRest(venue)
        self.prepare_rest(rest)
        await rest.load_markets()
        pub = MemoryPublisher()
        conn = Connector(venue, pub, rest, symbols, options=fast_options(**opts), clock=fake.now_ms)
        await conn.start()
        if subscribed:
            wanted = [s for sym in symbols for s in venue.streams_for(sym)]
            await fake.wait_until(lambda: all(fake.subscribers(s) for s in wanted))
        return conn, pub

    # ---- what the exchange sees and sends --------------------------------------------------
    def volume(self, row: CandleRow) -> float:
        """``row.volume`` as the venue publishes it: base currency, from the fake's wire units
        (futures fakes send whole contracts, so a volume may be rounded to a contract)."""
        return row.volume

    @abstractmethod
    def parse_request(self, text: str) -> Request:
        """A client message in the exchange's terms (stream names as ``venue.streams_for``)."""

    def url_key_of(self, client: FakeClient) -> str:
        """``Venue.url_key`` of the endpoint ``client`` connected to ("" for single-URL venues)."""
        return ""

    @abstractmethod
    def malformed(self, fake: Any, native: str, rows: list[CandleRow]) -> list[Malformed]:
        """Broken frames for the symbol ``native`` (whose first candle is ``rows[0]``)."""

    @abstractmethod
    def limits_case(self) -> LimitsCase:
        """The stream, message-rate and connection limits to check, with their figures."""

    def decode_venue(self) -> Venue:
        """A fresh venue as the connector leaves it after loading markets (no I/O)."""
        v = self.venue_cls()
        v.set_symbol_map(self.decode_symbols)
        if self.contract_sizes:
            v.set_contract_sizes(self.contract_sizes)  # type: ignore[attr-defined]
        return v

    @abstractmethod
    def decode_cases(self) -> list[DecodeCase]:
        """Captured and real frames with the records they must decode to."""

    @abstractmethod
    def bad_frames(self) -> list[BadFrame]:
        """Malformed frames with the dead-letter reason each must get."""

    def check_replay(self, fake: Any, conn: Connector, pub: MemoryPublisher) -> None:
        """Facts of the disconnect replay only this venue's fake can know (default: none)."""
        return None


def small_limits(cls: type[Venue], **limits: Any) -> type[Venue]:
    """``cls`` with some of its :class:`VenueLimits` replaced (small enough to fill in a test)."""
    return type(f"Small{cls.__name__}", (cls,), {"limits": dataclasses.replace(cls.limits, **limits)})


def paced_limits(cls: type[Venue], streams_per_connection: int, **limits: Any) -> LimitsCase:
    """Limits ten symbols overflow: ``streams_per_connection``, one stream per request (unless
    ``limits`` say otherwise), 8 messages a second against a fake that allows 10, 3 new
    connections a second."""
    small: dict[str, Any] = dict(streams_per_connection=streams_per_connection, streams_per_subscribe=1,
                                 client_msgs_per_second=8.0, connections_per_window=3, connection_window_s=1.0)
    return LimitsCase(small_limits(cls, **(small | limits)),
                      {"max_streams_per_connection": streams_per_connection, "max_msgs_per_second": 10.0})


def replaced(text: str, old: str, new: str, count: int = -1) -> str:
    """``text`` with ``old`` replaced (the first ``count`` times; all by default); an error if
    ``old`` is not there (a bad frame must really be bad)."""
    if old not in text:
        raise ValueError(f"{old!r} not in {text[:200]!r}")
    return text.replace(old, new, count)


def adapter_for(name: str) -> VenueAdapter:
    """The adapter of registered venue ``name`` (``tests/connectors/fakes/adapters/<exchange>.py``)."""
    exchange = venue_class(name).exchange
    module = f"tests.connectors.fakes.adapters.{exchange}"
    try:
        adapters: dict[str, VenueAdapter] = importlib.import_module(module).ADAPTERS
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise  # the adapter exists but imports something missing
        raise LookupError(f"venue {name!r} has no contract adapter: write {module.replace('.', '/')}.py "
                          "(see tests/connectors/fakes/adapter.py)") from exc
    if name not in adapters:
        raise LookupError(f"venue {name!r}: {module}.ADAPTERS has no entry for it")
    return adapters[name]
