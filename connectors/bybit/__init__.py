"""Bybit v5 spot and linear (public websocket, ``op: subscribe`` topics)."""

from connectors.bybit.client import BybitLinearVenue, BybitSpotVenue

__all__ = ["BybitLinearVenue", "BybitSpotVenue"]
