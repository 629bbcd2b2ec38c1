"""Venue name -> Venue class. Adding an exchange is one line here.

Entries are ``"module:Class"`` strings imported on first use, so importing the
registry never imports every exchange's dependencies.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping

from connectors.base.venue import Venue, VenueConfig

VENUES: dict[str, str] = {
    "binance-spot": "connectors.binance.client:BinanceSpotVenue",
    "binance-usdm": "connectors.binance.client:BinanceUsdmVenue",
    "bybit-linear": "connectors.bybit.client:BybitLinearVenue",
    "bybit-spot": "connectors.bybit.client:BybitSpotVenue",
    "gateio-futures": "connectors.gateio.client:GateioFuturesVenue",
    "gateio-spot": "connectors.gateio.client:GateioSpotVenue",
    "kucoin-futures": "connectors.kucoin.client:KucoinFuturesVenue",
    "kucoin-spot": "connectors.kucoin.client:KucoinSpotVenue",
    "mexc-futures": "connectors.mexc.client:MexcFuturesVenue",
    "mexc-spot": "connectors.mexc.client:MexcSpotVenue",
    "okx-spot": "connectors.okx.client:OkxSpotVenue",
    "okx-swap": "connectors.okx.client:OkxSwapVenue",
    "template": "connectors._template.client:TemplateVenue",
}


def venue_names() -> list[str]:
    return sorted(n for n in VENUES if n != "template")


def venue_class(name: str) -> type[Venue]:
    target = VENUES.get(name)
    if target is None:
        raise KeyError(f"unknown venue {name!r}; known: {', '.join(venue_names())}")
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)


def venue_config(name: str, environ: Mapping[str, str] | None = None,
                 channels: tuple[str, ...] | None = None) -> VenueConfig:
    """URLs for ``name``: ``SCANFLOW_<ENV>_WS_URL`` / ``SCANFLOW_<ENV>_REST_URL``
    override the venue's defaults (read once, here)."""
    cls = venue_class(name)
    env = os.environ if environ is None else environ
    prefix = f"SCANFLOW_{cls.env_name}_"
    ws = env.get(prefix + "WS_URL") or cls.default_ws_url
    rest = env.get(prefix + "REST_URL") or cls.default_rest_url
    default_channels = cls().config.channels
    extra = {k: env[f"{prefix}{k.upper()}_WS_URL"] for k in cls.default_extra_ws_urls if env.get(f"{prefix}{k.upper()}_WS_URL")}
    return VenueConfig(ws_url=ws, rest_url=rest, channels=channels or default_channels, extra_ws_urls=extra)


def make_venue(name: str, environ: Mapping[str, str] | None = None,
               channels: tuple[str, ...] | None = None) -> Venue:
    return venue_class(name)(venue_config(name, environ, channels))
