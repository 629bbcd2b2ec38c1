"""KuCoin's token handshake against the fake, beyond the venue contract
(test_venue_contract.py): every connection first POSTs ``bullet-public`` for a
token and the endpoint, so the REST URL alone points the venue at a deployment
(the fake refuses a socket without a fresh token); a WS URL setting replaces
the announced endpoint while the token still comes from REST."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from connectors.base import VenueConfig
from connectors.kucoin import KucoinSpotVenue
from tests.connectors.fakes.adapter import adapter_for, stop_connector
from tests.connectors.fakes.kucoin import FakeKucoin

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]


def token_of(path: str) -> str:
    return parse_qs(urlsplit(path).query)["token"][0]


async def test_every_connection_fetches_its_own_token(fakes: Any) -> None:
    adapter = adapter_for("kucoin-spot")  # its venue config points only the REST URL at the fake
    fake: FakeKucoin = await fakes(FakeKucoin, "spot")
    fake.list_symbol("BTC", "USDT")
    conn, _ = await adapter.start_connector(fake, ["BTC/USDT"])
    streams = conn.venue.streams_for("BTC/USDT")
    try:
        await fake.drop_all()  # the exchange restarts: the connector comes back at once
        await fake.wait_until(lambda: fake.connections_accepted == 2 and all(fake.subscribers(s) for s in streams))
    finally:
        await stop_connector(conn)
    assert conn.stats.reconnects == 1 and fake.tokenless_refused == 0
    # one bullet-public call per connection, and each connection used the token it got
    assert [token_of(c.path) for c in fake.all_clients] == fake.tokens == ["fake-token-0", "fake-token-1"]


async def test_ws_url_setting_replaces_the_announced_endpoint(fakes: Any) -> None:
    fake: FakeKucoin = await fakes(FakeKucoin, "spot")
    venue = KucoinSpotVenue(VenueConfig(f"{fake.ws_url}/elsewhere", fake.rest_url))
    url = await venue.resolve_connect_url()
    assert url.startswith(f"{fake.ws_url}/elsewhere?token=fake-token-0&connectId=")
    default = await KucoinSpotVenue(VenueConfig(KucoinSpotVenue.default_ws_url, fake.rest_url)).resolve_connect_url()
    assert default.startswith(f"{fake.ws_url}/?token=fake-token-1&connectId=")  # as announced by the exchange
