"""Binance spot and USDⓈ-M futures (combined streams, SUBSCRIBE/UNSUBSCRIBE)."""

from connectors.binance.client import BinanceSpotVenue, BinanceUsdmVenue

__all__ = ["BinanceSpotVenue", "BinanceUsdmVenue"]
