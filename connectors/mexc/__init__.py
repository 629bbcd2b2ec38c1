"""MEXC spot (protobuf pushes) and USDT-M perpetual contracts (JSON)."""

from connectors.mexc.client import MexcFuturesVenue, MexcSpotVenue

__all__ = ["MexcFuturesVenue", "MexcSpotVenue"]
