"""Where batches of line protocol go: InfluxDB's 1.x ``/write`` or its 2.x/3.x write API.

A sink sends one body and either returns (InfluxDB acknowledged every point) or raises
one of three errors, which decide what the writer does next:

- :class:`SinkUnavailable` — down, slow, overloaded (connection refused, timeout, 5xx,
  429): keep the batch, retry with backoff.
- :class:`SinkRefused` — InfluxDB answers but will not take our writes (bad token 401/403,
  unknown database or bucket 404): keep the batch, retry with backoff, and say so plainly
  in the server's health, since only an operator can fix it.
- :class:`SinkRejectedData` — InfluxDB refuses the content itself (400, 413, 422): retrying
  cannot help, the batch is set aside in the outbox's ``rejected`` table.
"""

from __future__ import annotations

import json
from typing import Any, Protocol, cast

import httpx

_BODY_EXCERPT = 300


class SinkError(Exception):
    """A write did not go through; ``kind`` is a stable code, the message is French first."""

    kind = "error"

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class SinkUnavailable(SinkError):
    kind = "unavailable"


class SinkRefused(SinkError):
    kind = "refused"


class SinkRejectedData(SinkError):
    kind = "rejected_data"


class Sink(Protocol):
    """Anything that can write a line-protocol body to a time-series database."""

    def write(self, body: str) -> None: ...

    def describe(self) -> str: ...

    def close(self) -> None: ...


def _server_message(text: str) -> str:
    """The ``error`` / ``message`` of an InfluxDB JSON error body, else the raw text."""
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()[:_BODY_EXCERPT]
    if isinstance(data, dict):
        for key in ("error", "message"):
            if isinstance(data.get(key), str):
                return str(data[key])[:_BODY_EXCERPT]
    return text.strip()[:_BODY_EXCERPT]


def error_for_status(status: int, body: str, target: str) -> SinkError:
    """Map an HTTP answer to the error the writer acts on."""
    detail = _server_message(body)
    if status in (401, 403):
        return SinkRefused(
            f"InfluxDB refuse l'écriture : identifiants ou jeton invalides ({status}, {detail}) "
            f"/ InfluxDB refused the credentials for {target}",
            status,
        )
    if status == 404:
        return SinkRefused(
            f"InfluxDB ne connaît pas la base ou le bucket ({detail}) "
            f"/ database or bucket not found: {target}",
            status,
        )
    if status in (400, 413, 422):
        return SinkRejectedData(
            f"InfluxDB rejette des points ({status}, {detail}) "
            f"/ InfluxDB rejected the data sent to {target}",
            status,
        )
    return SinkUnavailable(
        f"InfluxDB indisponible ({status}, {detail}) / InfluxDB unavailable at {target}",
        status,
    )


def _unreachable(target: str, exc: BaseException) -> SinkUnavailable:
    return SinkUnavailable(
        f"InfluxDB injoignable ({type(exc).__name__}: {exc}) / cannot reach {target}"
    )


class InfluxV1Sink:
    """``POST /write?db=…&precision=ns`` — InfluxDB 1.x, and 2.x/3.x in v1 compatibility.

    Authenticate with ``username``/``password`` (1.x) or ``token`` (2.x, 3.x: sent as
    ``Authorization: Token …``).
    """

    def __init__(
        self,
        url: str,
        database: str,
        *,
        retention_policy: str | None = None,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self._params = {"db": database, "precision": "ns"}
        if retention_policy:
            self._params["rp"] = retention_policy
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if token:
            headers["Authorization"] = f"Token {token}"
        auth = (username, password or "") if username else None
        self._client = httpx.Client(headers=headers, auth=auth, timeout=timeout_s)

    def describe(self) -> str:
        return f"{self.url}/write?db={self.database}"

    def write(self, body: str) -> None:
        try:
            response = self._client.post(
                f"{self.url}/write", params=self._params, content=body.encode("utf-8")
            )
        except httpx.HTTPError as exc:
            raise _unreachable(self.describe(), exc) from exc
        if response.status_code != 204 and not 200 <= response.status_code < 300:
            raise error_for_status(response.status_code, response.text, self.describe())

    def close(self) -> None:
        self._client.close()


class InfluxV2Sink:
    """The 2.x/3.x write API (``/api/v2/write``) through ``influxdb-client``."""

    def __init__(
        self, url: str, org: str, bucket: str, token: str, *, timeout_s: float = 10.0
    ) -> None:
        from influxdb_client.client.influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.url = url.rstrip("/")
        self.org = org
        self.bucket = bucket
        # retries=False: the writer owns retrying, with its outbox and backoff.
        self._client = InfluxDBClient(
            url=self.url, token=token, org=org, timeout=int(timeout_s * 1000), retries=False
        )
        self._api = self._client.write_api(write_options=SYNCHRONOUS)

    def describe(self) -> str:
        return f"{self.url}/api/v2/write?org={self.org}&bucket={self.bucket}"

    def write(self, body: str) -> None:
        from influxdb_client.domain.write_precision import WritePrecision
        from influxdb_client.rest import ApiException
        from urllib3.exceptions import HTTPError as Urllib3Error

        try:
            self._api.write(
                bucket=self.bucket,
                org=self.org,
                record=body,
                write_precision=cast(Any, WritePrecision.NS),
            )
        except ApiException as exc:
            status = int(exc.status or 0)
            raise error_for_status(status, str(exc.body or exc.reason), self.describe()) from exc
        except (Urllib3Error, OSError) as exc:
            raise _unreachable(self.describe(), exc) from exc

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]
