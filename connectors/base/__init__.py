"""The connector contract: a :class:`Venue` (what an exchange speaks) driven by
a :class:`Connector` (sharding, reconnects, gap backfill, dedup, audit,
dead letters). Adding an exchange means writing one ``Venue`` subclass; see
``connectors/_template`` and docs/connectors.md."""

from connectors.base.connection import WsConnection
from connectors.base.connector import Connector, ConnectorOptions, ConnectorStats
from connectors.base.publish import KafkaPublisher, MemoryPublisher, Publisher
from connectors.base.rest import CcxtRest, RestClient
from connectors.base.venue import Venue, VenueConfig, VenueLimits

__all__ = [
    "CcxtRest", "Connector", "ConnectorOptions", "ConnectorStats", "KafkaPublisher",
    "MemoryPublisher", "Publisher", "RestClient", "Venue", "VenueConfig", "VenueLimits",
    "WsConnection",
]
