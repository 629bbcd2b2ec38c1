"""Numbers out of exchange frames: one parser for every venue, one reason per fault.

Exchanges send prices and sizes as decimal strings (sometimes numbers). A value
that is missing, not a number, NaN or infinite, or a price that is not positive,
raises :class:`~streams.records.RecordError`; the connector dead-letters the
frame with that reason and the raw text, and the stream goes on.
"""

from __future__ import annotations

import math

from streams.records import RecordError


def number(text: str | float | None, field: str, symbol: str) -> float:
    """``text`` as a finite float; ``field`` and ``symbol`` name it in the error."""
    if text is None or text == "":
        raise RecordError("missing_field", f"{symbol}: field {field} is empty", field=field)
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise RecordError("bad_number", f"{symbol}: field {field}={text!r} is not a number", field=field) from None
    if math.isnan(value) or math.isinf(value):
        raise RecordError("non_finite", f"{symbol}: field {field}={text!r}", field=field)
    return value


def price(text: str | float | None, field: str, symbol: str) -> float:
    """A :func:`number` that must be positive."""
    value = number(text, field, symbol)
    if value <= 0:
        raise RecordError("non_positive_price", f"{symbol}: field {field}={text!r}", field=field)
    return value
