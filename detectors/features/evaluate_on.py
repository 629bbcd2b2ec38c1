"""``evaluate_on``: signal on the bar that just closed, or on the bar before it.

``"current"``: the signals of bar ``t`` are emitted when ``t`` closes.
``"last_closed"``: the signals of bar ``t`` are emitted when the next bar ``t+1``
closes (they still refer to bar ``t``: its open time, id and price), the way
scanners that look at the last *closed* bar behave; the newest bar of a batch
therefore has no signal yet. Detectors using this keep only bounded windows, so the
base class's history replay restores them exactly (the pending signal included).
"""

from __future__ import annotations

from abc import abstractmethod

from detectors.base import Bar, BarArrays, Detector, SeriesMeta
from detectors.records import Signal

EVALUATE_ON = ("current", "last_closed")


class EvaluateOnDetector(Detector):
    """Subclasses implement ``_evaluate_step`` and ``_evaluate_batch`` (signals per bar
    on the bar itself) and have an ``evaluate_on`` parameter."""

    def _check_evaluate_on(self) -> None:
        if self.params.evaluate_on not in EVALUATE_ON:  # type: ignore[attr-defined]
            raise ValueError(f"detector {self.name}: evaluate_on must be one of {EVALUATE_ON}")
        if self.params.evaluate_on == "current":  # type: ignore[attr-defined]
            self._step = self._evaluate_step  # type: ignore[method-assign]  # what _step does then, one call less

    @abstractmethod
    def _evaluate_step(self, bar: Bar) -> list[Signal]: ...

    @abstractmethod
    def _evaluate_batch(self, bars: BarArrays, meta: SeriesMeta) -> list[Signal]: ...

    def _reset_pending(self) -> None:
        self._pending: list[Signal] = []

    def _step(self, bar: Bar) -> list[Signal]:
        signals = self._evaluate_step(bar)
        if self.params.evaluate_on == "current":  # type: ignore[attr-defined]
            return signals
        out, self._pending = self._pending, signals
        return out

    def _batch(self, bars: BarArrays, meta: SeriesMeta) -> list[Signal]:
        signals = self._evaluate_batch(bars, meta)
        if self.params.evaluate_on == "current" or not len(bars):  # type: ignore[attr-defined]
            return signals
        newest = int(bars.open_time[-1])
        return [s for s in signals if s.open_time != newest]
