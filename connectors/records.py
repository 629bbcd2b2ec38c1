"""In-process records of the connectors. The records they publish (``md.funding``,
``md.open_interest``, ...) are part of the Kafka contract in ``streams.records``.
:class:`SubscribeAck` never leaves the process: it tells a connection that the
exchange acknowledged a request.
"""

from __future__ import annotations

import msgspec


class SubscribeAck(msgspec.Struct, frozen=True):
    """The exchange acknowledged request ``id`` (in-process only)."""

    id: int | str | None
    ok: bool = True
    detail: str = ""
