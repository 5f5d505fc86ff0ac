"""Run InfluxQL against a real InfluxDB 1.x database (the tests' view of Grafana's queries)."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any


class InfluxQLError(AssertionError):
    pass


@dataclass(frozen=True)
class InfluxTarget:
    url: str
    database: str

    def query(self, text: str, epoch: str = "ns") -> list[dict[str, Any]]:
        """The series of the first statement's result ([] when it has none)."""
        body = urllib.parse.urlencode({"db": self.database, "q": text, "epoch": epoch}).encode()
        with urllib.request.urlopen(f"{self.url}/query", data=body, timeout=30) as response:
            result = json.loads(response.read())["results"][0]
        if "error" in result:
            raise InfluxQLError(f"{result['error']}\nquery: {text}")
        return list(result.get("series", []))

    def count(self, measurement: str, field: str = "count") -> int:
        series = self.query(f'SELECT count("{field}") FROM "{measurement}"')
        return int(series[0]["values"][0][1]) if series else 0
