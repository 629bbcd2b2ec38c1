"""Pure helpers shared by the breakout, futures and candlestick detectors."""
