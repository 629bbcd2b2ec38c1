"""Fake exchanges on 127.0.0.1 that speak the real wire formats (websocket +
the REST endpoints ccxt calls), replay real candles and frames, and misbehave
on demand (forced disconnects, refused connections, malformed frames).

``adapter`` and ``adapters/<exchange>`` say how the venue contract
(tests/connectors/test_venue_contract.py) drives each venue against its fake."""

from tests.connectors.fakes.exchange import FakeClient, FakeExchange, shared_market_dir

__all__ = ["FakeClient", "FakeExchange", "shared_market_dir"]
