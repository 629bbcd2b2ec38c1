import json
import math

import msgspec
import pytest

from detectors.records import (
    Candle,
    RecordError,
    Signal,
    TradePlan,
    decode_candle,
    decode_signal,
    encode,
    signal_id,
    validate_candle,
)
from streams.records import DeadLetter, Quote, Tick, dead_letter, decode_quote, decode_tick
from streams.schemas import record_schema, write_schemas

pytestmark = pytest.mark.unit

OT = 1_700_000_040_000  # aligned to 1m


def candle(**kw) -> Candle:
    base = dict(exchange="binance", market="spot", symbol="BTC/USDT", tf="1m", open_time=OT,
                close_time=OT + 59_999, open=100.0, high=101.0, low=99.0, close=100.5, volume=12.5,
                quote_volume=1250.0, trades=42, provenance="ws_final", event_time=OT + 59_999,
                received_at=OT + 60_050)
    base.update(kw)
    return Candle(**base)


def test_candle_round_trip_is_lossless():
    c = candle()
    raw = encode(c)
    assert json.loads(raw)["schema"] == 1
    assert decode_candle(raw) == c
    assert c.key == "binance:spot:BTC/USDT"


def test_signal_round_trip_with_trade_plan():
    sid = signal_id("binance", "spot", "BTC/USDT", "1m", "volume_surge", OT, "1.0.0", "abc")
    s = Signal(id=sid, exchange="binance", market="spot", symbol="BTC/USDT", tf="1m", detector="volume_surge",
               detector_version="1.0.0", params_hash="abc", open_time=OT, event_time=OT + 59_999,
               emitted_at=OT + 60_100, signal_type="VOLUME_SURGE", direction="bullish", score=77.5, price=100.5,
               features={"zscore": 5.1, "tags": ["a"]},
               trade_plan=TradePlan(entry=100.5, stop=99.0, tp1=102.0, tp2=104.0, eta_bars=6))
    assert decode_signal(encode(s)) == s


def test_signal_id_is_deterministic_and_sensitive_to_every_part():
    parts = ("binance", "spot", "BTC/USDT", "1m", "volume_surge", OT, "1.0.0", "abc")
    a = signal_id(*parts)
    assert a == signal_id(*parts)
    for i in range(len(parts)):
        changed = list(parts)
        changed[i] = changed[i] + 60_000 if isinstance(changed[i], int) else changed[i] + "x"
        assert signal_id(*changed) != a, f"part {i} does not affect the id"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"open": math.nan}, "non_finite_price"),
        ({"close": math.inf}, "non_finite_price"),
        ({"low": -1.0}, "non_positive_price"),
        ({"open": 0.0}, "non_positive_price"),
        ({"high": 98.0}, "high_below_low"),
        ({"close": 150.0}, "open_close_outside_range"),
        ({"volume": -0.1}, "negative_volume"),
        ({"volume": math.nan}, "non_finite_volume"),
        ({"open_time": OT + 1, "close_time": OT + 60_000}, "unaligned_open_time"),
        ({"tf": "7m"}, "unknown_timeframe"),
        ({"market": "moon"}, "unknown_market"),
        ({"close_time": OT + 1}, "bad_close_time"),
        ({"provenance": "guess"}, "unknown_provenance"),
    ],
)
def test_bad_candles_are_rejected_with_their_reason(change, reason):
    # in memory (what connectors build) ...
    with pytest.raises(RecordError) as exc:
        validate_candle(candle(**change))
    assert exc.value.reason == reason
    assert reason in str(exc.value)
    # ... and on the wire, where JSON has no NaN/inf: those arrive as null or a NaN token
    wire = json.dumps(msgspec.to_builtins(candle()) | change, allow_nan=True).encode()
    with pytest.raises(RecordError) as exc2:
        decode_candle(wire)
    assert exc2.value.reason in (reason, "malformed_json", "schema_mismatch")


def test_null_price_on_the_wire_names_the_field():
    wire = msgspec.json.encode(msgspec.to_builtins(candle()) | {"high": None})
    with pytest.raises(RecordError) as exc:
        decode_candle(wire)
    assert exc.value.reason == "schema_mismatch" and "high" in exc.value.detail


def test_unaligned_hourly_candle_is_rejected():
    raw = encode(candle(tf="1h", open_time=OT, close_time=OT + 3_599_999))  # OT is not on the hour
    with pytest.raises(RecordError, match="unaligned_open_time"):
        decode_candle(raw)


def test_malformed_and_mistyped_payloads_have_reasons():
    with pytest.raises(RecordError) as e1:
        decode_candle(b"{not json")
    assert e1.value.reason == "malformed_json"
    with pytest.raises(RecordError) as e2:
        decode_candle(b'{"exchange": "x"}')
    assert e2.value.reason == "schema_mismatch"
    with pytest.raises(RecordError) as e3:
        decode_candle(msgspec.json.encode(msgspec.to_builtins(candle()) | {"open": "100"}))
    assert e3.value.reason == "schema_mismatch"


def test_signal_score_and_direction_are_validated():
    good = msgspec.to_builtins(Signal(id="x", exchange="e", market="spot", symbol="S/T", tf="1m", detector="d",
                                      detector_version="1", params_hash="p", open_time=OT, event_time=OT,
                                      emitted_at=OT, signal_type="T", direction="bullish", score=50, price=1.0))
    with pytest.raises(RecordError, match="score_out_of_range"):
        decode_signal(msgspec.json.encode(good | {"score": 101}))
    with pytest.raises(RecordError, match="bad_direction"):
        decode_signal(msgspec.json.encode(good | {"direction": "up"}))


def test_tick_and_quote_validation():
    t = Tick(exchange="binance", market="usdm", symbol="BTC/USDT", trade_id="1", price=10.0, qty=1.0,
             side="buy", event_time=OT, received_at=OT)
    assert decode_tick(encode(t)) == t
    with pytest.raises(RecordError, match="non_positive_price"):
        decode_tick(msgspec.json.encode(msgspec.to_builtins(t) | {"price": -1}))
    q = Quote(exchange="binance", market="spot", symbol="BTC/USDT", bid=10.0, bid_qty=1, ask=10.1, ask_qty=2,
              event_time=OT, received_at=OT)
    assert decode_quote(encode(q)) == q
    with pytest.raises(RecordError, match="crossed_quote"):
        decode_quote(msgspec.json.encode(msgspec.to_builtins(q) | {"bid": 11.0}))


def test_dead_letter_keeps_raw_payload_and_reason():
    try:
        decode_candle(b'{"broken": ')
    except RecordError as exc:
        dl = dead_letter("worker", exc, b'{"broken": ', received_at=OT, topic="md.candles.1m", partition=3, offset=9)
    assert isinstance(dl, DeadLetter)
    assert dl.reason == "malformed_json" and dl.raw == '{"broken": ' and dl.offset == 9


def test_published_json_schemas_match_the_models(tmp_path):
    from pathlib import Path

    written = {p.name: p.read_text() for p in write_schemas(tmp_path)}
    published = Path(__file__).resolve().parents[2] / "docs" / "schemas"
    for name, text in written.items():
        assert (published / name).read_text() == text, f"docs/schemas/{name} is stale: run `scanflow schemas`"
    schema = record_schema("Candle")
    assert "open_time" in schema["$defs"]["Candle"]["required"]
