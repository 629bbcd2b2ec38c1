"""Closing 1m candles on exchanges whose kline stream has no close flag.

KuCoin and MEXC push the running state of the current window on every change
and never say "this window is final". :class:`KlineCloser` keeps the latest
update per symbol and declares a window closed when an update for a LATER
window arrives: the last update seen is the exchange's final state of that
window (the exchange pushes cumulative snapshots, so a later update of the same
window simply replaces the earlier one).

Trust rule: a window is only inferred closed if every update since it was
first seen came over an unbroken subscription. The venue calls
:meth:`KlineCloser.forget` for the symbols of every (re)subscription (a
reconnect, a rotation, a control change); a window seen before the break is
dropped rather than published with possibly missing trades, and the
connector's gap detection fetches it over REST instead. Late, never wrong.

The closer is bounded: one pending update per subscribed symbol.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class KlineCloser(Generic[T]):
    """Per-symbol latest update of the open window; returns windows that closed."""

    def __init__(self) -> None:
        self._pending: dict[str, tuple[int, T]] = {}

    def update(self, symbol: str, open_time: int, value: T) -> T | None:
        """Record ``value`` (the state of window ``open_time``); return the previous
        window's final state if this update proves it closed, else None.
        Updates for windows older than the pending one are ignored (a stale
        frame, e.g. from a connection being rotated out)."""
        pending = self._pending.get(symbol)
        if pending is None or open_time == pending[0]:
            self._pending[symbol] = (open_time, value)
            return None
        if open_time < pending[0]:
            return None
        self._pending[symbol] = (open_time, value)
        return pending[1]

    def close_before(self, open_time: int) -> list[T]:
        """Pop and return the pending windows opened before ``open_time``: a timer
        decided they are over (a quiet symbol whose next window never starts;
        MEXC closes windows this way on the exchange's clock)."""
        due = [s for s, (t, _) in self._pending.items() if t < open_time]
        return [self._pending.pop(s)[1] for s in due]

    def forget(self, symbols: Iterable[str]) -> None:
        """Drop the pending windows of ``symbols`` (their updates may have a hole)."""
        for s in symbols:
            self._pending.pop(s, None)

    def pending_open_time(self, symbol: str) -> int | None:
        p = self._pending.get(symbol)
        return None if p is None else p[0]

    def __len__(self) -> int:
        return len(self._pending)
