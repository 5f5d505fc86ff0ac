"""Flow visibility: custody transfers, stock and device health as InfluxDB time series.

The ingest calls :meth:`TimeSeriesWriter.record` with the records defined in
:mod:`.records`; everything else (line protocol, durable outbox, retries, both InfluxDB
write APIs, backfill) lives here. The SQL ledger stays the system of record: InfluxDB
can always be rebuilt from it with :func:`backfill`.
"""

from .backfill import BackfillReport, backfill
from .lineprotocol import InvalidPoint, Point, encode_batch, encode_point
from .outbox import Outbox, OutboxStats
from .records import (
    CustodyTransfer,
    DeviceHealth,
    GeoPoint,
    IngestMetrics,
    Record,
    StockSnapshot,
    points_of,
)
from .settings import TimeSeriesConfigError, TimeSeriesSettings
from .sinks import (
    InfluxV1Sink,
    InfluxV2Sink,
    Sink,
    SinkError,
    SinkRefused,
    SinkRejectedData,
    SinkUnavailable,
)
from .writer import Backoff, TimeSeriesWriter, WriterHealth

__all__ = [
    "BackfillReport",
    "Backoff",
    "CustodyTransfer",
    "DeviceHealth",
    "GeoPoint",
    "InfluxV1Sink",
    "InfluxV2Sink",
    "IngestMetrics",
    "InvalidPoint",
    "Outbox",
    "OutboxStats",
    "Point",
    "Record",
    "Sink",
    "SinkError",
    "SinkRefused",
    "SinkRejectedData",
    "SinkUnavailable",
    "StockSnapshot",
    "TimeSeriesConfigError",
    "TimeSeriesSettings",
    "TimeSeriesWriter",
    "WriterHealth",
    "backfill",
    "encode_batch",
    "encode_point",
    "points_of",
]
