"""Pure building blocks shared by several detectors (no I/O, numpy only).

Every helper exists in a streaming form (a small class updated one bar at a time,
bounded memory) and a batch form (a function over numpy arrays, usually one
numba-compiled loop) that produce *bit-identical* floats: both forms perform the
same IEEE operations in the same order, so a detector built from them gets
"streaming == batch" exactly.

* :mod:`detectors.features.window` - trailing window sums/means/extremes, Wilder RSI,
  close-to-close streaks.
* :mod:`detectors.features.reversion` - the four mean-reversion factors.
* :mod:`detectors.features.clustering` - high-volume candle clustering.
* :mod:`detectors.features.momentum` - enhanced momentum and its classification.
* :mod:`detectors.features.scanner` - the inputs of the three above, computed once
  per bar (``ScannerState``) or per series (``scanner_series``, compiled in
  :mod:`detectors.features.scanner_kernel`).
* :mod:`detectors.features.levels_kernel` - the compiled twin of
  :class:`detectors.levels.LevelBook` (swing levels, breaks, retests).
"""
