"""Benchmarks that print figures (``scanflow bench <name>``); no timed assertions."""
