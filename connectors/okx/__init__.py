"""OKX v5 spot and USDT swaps (candles on ``/ws/v5/business``, the rest on ``/ws/v5/public``)."""

from connectors.okx.client import OkxSpotVenue, OkxSwapVenue

__all__ = ["OkxSpotVenue", "OkxSwapVenue"]
