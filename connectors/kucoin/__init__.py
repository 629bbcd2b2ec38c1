"""KuCoin spot and USDT-margined perpetual futures (bullet token, topic subscriptions)."""

from connectors.kucoin.client import KucoinFuturesVenue, KucoinSpotVenue

__all__ = ["KucoinFuturesVenue", "KucoinSpotVenue"]
