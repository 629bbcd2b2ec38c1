"""Gate.io v4 spot and USDT-settled perpetual futures (``channel`` + ``event`` JSON requests)."""

from connectors.gateio.client import GateioFuturesVenue, GateioSpotVenue

__all__ = ["GateioFuturesVenue", "GateioSpotVenue"]
