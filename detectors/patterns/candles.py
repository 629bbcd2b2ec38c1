"""Candlestick pattern definitions, written once for scalars *and* numpy arrays.

Every definition below uses only ``+ - * abs``, comparisons and ``& |``, so the
same function evaluates one bar (Python floats, streaming) or a whole series
(numpy arrays, batch) with bit-identical IEEE arithmetic: streaming equals batch
by construction.

A bar's shape (:func:`shape`), with ``body = |C - O|``, ``rng = H - L``,
``top = (O + C + body) / 2`` (= max(O, C)), ``bottom = (O + C - body) / 2``,
``upper = H - top``, ``lower = bottom - L``, ``mid = (O + C) / 2``; a bar is
``bull`` when ``C > O`` and ``bear`` when ``C < O``. A flat bar (``rng == 0``)
matches no single-bar pattern.

Parameters (``CandleParams``): ``doji_body`` 0.1, ``small_body`` 0.3,
``long_body`` 0.6 (fractions of the bar's own range), ``shadow_mult`` 2.0 (a
hammer's shadow at least twice its body), ``tiny_shadow`` 0.1 (fraction of the
range). Trend context: ``down`` / ``up`` flags say whether the close of the bar
*before the pattern's first bar* is below / above the close ``trend_lookback``
bars earlier (computed by the caller).

Definitions (b1, b2, b3 = the three most recent bars, b3 the current one):

* ``HAMMER`` (bullish): b3 in a downtrend, ``body <= small*rng``,
  ``lower >= shadow_mult*body``, ``upper <= tiny*rng``, ``rng > 0``.
* ``HANGING_MAN`` (bearish): the hammer shape in an uptrend.
* ``INVERTED_HAMMER`` (bullish): downtrend, ``body <= small*rng``,
  ``upper >= shadow_mult*body``, ``lower <= tiny*rng``, ``rng > 0``.
* ``SHOOTING_STAR`` (bearish): the inverted-hammer shape in an uptrend.
* ``DOJI`` (neutral): ``rng > 0`` and ``body <= doji*rng``.
* ``BULLISH_ENGULFING``: downtrend before b2, b2 bear, b3 bull,
  ``b3.O <= b2.C``, ``b3.C >= b2.O``, ``b3.body > b2.body``.
* ``BEARISH_ENGULFING``: uptrend, b2 bull, b3 bear, ``b3.O >= b2.C``,
  ``b3.C <= b2.O``, ``b3.body > b2.body``.
* ``BULLISH_HARAMI``: downtrend, b2 a long bear (``body >= long*rng``), b3's
  body strictly inside b2's (``b3.top < b2.O`` and ``b3.bottom > b2.C``).
* ``BEARISH_HARAMI``: uptrend, b2 a long bull, ``b3.top < b2.C``,
  ``b3.bottom > b2.O``.
* ``PIERCING_LINE``: downtrend, b2 a long bear, b3 bull opening at or below
  b2's close and closing above b2's midpoint but below its open.
* ``DARK_CLOUD_COVER``: uptrend, b2 a long bull, b3 bear opening at or above
  b2's close and closing below b2's midpoint but above its open.
* ``MORNING_STAR``: downtrend before b1, b1 a long bear, b2 small
  (``body <= small*rng``) with its top below b1's midpoint, b3 bull with a body
  larger than b2's closing above b1's midpoint. (Crypto trades around the clock,
  so no price gap is required between the bodies.)
* ``EVENING_STAR``: the mirror: uptrend, b1 long bull, b2 small with its bottom
  above b1's midpoint, b3 bear with a larger body closing below b1's midpoint.
* ``THREE_WHITE_SOLDIERS``: b1, b2, b3 long bulls, closes rising, each open
  inside the previous body (``prev.O <= O <= prev.C``).
* ``THREE_BLACK_CROWS``: the mirror with long bears and falling closes.
"""

from __future__ import annotations

from typing import Any

#: name -> (direction, bars in the pattern, base score); the order is the priority
#: used when several patterns complete on the same bar.
PATTERNS: dict[str, tuple[str, int, float]] = {
    "MORNING_STAR": ("bullish", 3, 70.0),
    "EVENING_STAR": ("bearish", 3, 70.0),
    "THREE_WHITE_SOLDIERS": ("bullish", 3, 70.0),
    "THREE_BLACK_CROWS": ("bearish", 3, 70.0),
    "BULLISH_ENGULFING": ("bullish", 2, 65.0),
    "BEARISH_ENGULFING": ("bearish", 2, 65.0),
    "PIERCING_LINE": ("bullish", 2, 60.0),
    "DARK_CLOUD_COVER": ("bearish", 2, 60.0),
    "BULLISH_HARAMI": ("bullish", 2, 50.0),
    "BEARISH_HARAMI": ("bearish", 2, 50.0),
    "HAMMER": ("bullish", 1, 55.0),
    "SHOOTING_STAR": ("bearish", 1, 55.0),
    "INVERTED_HAMMER": ("bullish", 1, 45.0),
    "HANGING_MAN": ("bearish", 1, 45.0),
    "DOJI": ("neutral", 1, 30.0),
}

# shape tuple indices
OPEN, HIGH, LOW, CLOSE, BODY, RNG, TOP, BOTTOM, UPPER, LOWER, MID, BULL, BEAR = range(13)


def shape(o: Any, h: Any, low: Any, c: Any) -> tuple[Any, ...]:
    """Derived quantities of one bar (floats) or of many (numpy arrays)."""
    body = abs(c - o)
    top = (o + c + body) * 0.5
    bottom = (o + c - body) * 0.5
    return (o, h, low, c, body, h - low, top, bottom, h - top, bottom - low, (o + c) * 0.5,
            c > o, c < o)


def match(b1: tuple[Any, ...], b2: tuple[Any, ...], b3: tuple[Any, ...],
          down1: Any, up1: Any, down2: Any, up2: Any, down3: Any, up3: Any,
          doji_body: float, small_body: float, long_body: float, shadow_mult: float,
          tiny_shadow: float) -> dict[str, Any]:
    """Every pattern's truth value for the bar ``b3`` (``down1``/``up1``: trend
    before b3; ``down2``/``up2``: before b2; ``down3``/``up3``: before b1)."""
    rng3 = b3[RNG]
    has_rng = rng3 > 0
    small3 = b3[BODY] <= small_body * rng3
    hammer_shape = has_rng & small3 & (b3[LOWER] >= shadow_mult * b3[BODY]) & (b3[UPPER] <= tiny_shadow * rng3)
    inv_shape = has_rng & small3 & (b3[UPPER] >= shadow_mult * b3[BODY]) & (b3[LOWER] <= tiny_shadow * rng3)
    long2 = b2[BODY] >= long_body * b2[RNG]
    long1 = b1[BODY] >= long_body * b1[RNG]
    long3 = b3[BODY] >= long_body * rng3
    small2 = b2[BODY] <= small_body * b2[RNG]
    bigger3 = b3[BODY] > b2[BODY]
    return {
        "MORNING_STAR": down3 & b1[BEAR] & long1 & small2 & (b2[TOP] < b1[MID]) & b3[BULL]
        & bigger3 & (b3[CLOSE] > b1[MID]),
        "EVENING_STAR": up3 & b1[BULL] & long1 & small2 & (b2[BOTTOM] > b1[MID]) & b3[BEAR]
        & bigger3 & (b3[CLOSE] < b1[MID]),
        "THREE_WHITE_SOLDIERS": b1[BULL] & b2[BULL] & b3[BULL] & long1 & long2 & long3
        & (b2[CLOSE] > b1[CLOSE]) & (b3[CLOSE] > b2[CLOSE]) & (b2[OPEN] >= b1[OPEN]) & (b2[OPEN] <= b1[CLOSE])
        & (b3[OPEN] >= b2[OPEN]) & (b3[OPEN] <= b2[CLOSE]),
        "THREE_BLACK_CROWS": b1[BEAR] & b2[BEAR] & b3[BEAR] & long1 & long2 & long3
        & (b2[CLOSE] < b1[CLOSE]) & (b3[CLOSE] < b2[CLOSE]) & (b2[OPEN] <= b1[OPEN]) & (b2[OPEN] >= b1[CLOSE])
        & (b3[OPEN] <= b2[OPEN]) & (b3[OPEN] >= b2[CLOSE]),
        "BULLISH_ENGULFING": down2 & b2[BEAR] & b3[BULL] & (b3[OPEN] <= b2[CLOSE]) & (b3[CLOSE] >= b2[OPEN]) & bigger3,
        "BEARISH_ENGULFING": up2 & b2[BULL] & b3[BEAR] & (b3[OPEN] >= b2[CLOSE]) & (b3[CLOSE] <= b2[OPEN]) & bigger3,
        "PIERCING_LINE": down2 & b2[BEAR] & long2 & b3[BULL] & (b3[OPEN] <= b2[CLOSE]) & (b3[CLOSE] > b2[MID])
        & (b3[CLOSE] < b2[OPEN]),
        "DARK_CLOUD_COVER": up2 & b2[BULL] & long2 & b3[BEAR] & (b3[OPEN] >= b2[CLOSE]) & (b3[CLOSE] < b2[MID])
        & (b3[CLOSE] > b2[OPEN]),
        "BULLISH_HARAMI": down2 & b2[BEAR] & long2 & (b3[TOP] < b2[OPEN]) & (b3[BOTTOM] > b2[CLOSE]),
        "BEARISH_HARAMI": up2 & b2[BULL] & long2 & (b3[TOP] < b2[CLOSE]) & (b3[BOTTOM] > b2[OPEN]),
        "HAMMER": down1 & hammer_shape,
        "SHOOTING_STAR": up1 & inv_shape,
        "INVERTED_HAMMER": down1 & inv_shape,
        "HANGING_MAN": up1 & hammer_shape,
        "DOJI": has_rng & (b3[BODY] <= doji_body * rng3),
    }


def could_match(b1: tuple[Any, ...], b2: tuple[Any, ...], b3: tuple[Any, ...],
                small_body: float, long_body: float) -> bool:
    """A cheap necessary condition for any pattern (scalars only): lets the
    streaming path skip :func:`match` on most bars. Every pattern needs a small
    current body, a long b1 or b2, or a current body larger than b2's."""
    return (b3[BODY] <= small_body * b3[RNG] or b2[BODY] >= long_body * b2[RNG]
            or b1[BODY] >= long_body * b1[RNG] or b3[BODY] > b2[BODY])
