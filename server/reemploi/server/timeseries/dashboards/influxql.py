"""An InfluxQL query for Grafana's InfluxDB data source (the SDK has no builder for it).

Raw InfluxQL only: InfluxDB 1.x, 2.x (v1 compatibility, DBRP mapping) and 3.x all answer
it, so the same dashboards work whichever InfluxDB the metropolis runs.
"""

from __future__ import annotations

from typing import Any, Self

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants

DATASOURCE_UID = "reemploi-influxdb"
DATASOURCE_TYPE = "influxdb"
DATASOURCE_NAME = "InfluxDB Réemploi"

TIME_SERIES = "time_series"
TABLE = "table"


def datasource_ref() -> dict[str, str]:
    return {"type": DATASOURCE_TYPE, "uid": DATASOURCE_UID}


class InfluxQLQuery(cogvariants.Dataquery):
    def __init__(self, ref_id: str, query: str, result_format: str, alias: str | None) -> None:
        self.ref_id = ref_id
        self.query = query
        self.result_format = result_format
        self.alias = alias

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "datasource": datasource_ref(),
            "query": self.query,
            "rawQuery": True,
            "refId": self.ref_id,
            "resultFormat": self.result_format,
        }
        if self.alias:
            data["alias"] = self.alias
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(data["refId"], data["query"], data["resultFormat"], data.get("alias"))


class InfluxQL(cogbuilder.Builder[InfluxQLQuery]):
    """``InfluxQL('SELECT …', ref_id="A", table=True, alias="$tag_step")``.

    Every query is limited by ``$timeFilter`` unless ``all_time=True`` says otherwise on
    purpose (small reference data such as site positions).
    """

    def __init__(
        self,
        query: str,
        *,
        ref_id: str = "A",
        table: bool = False,
        alias: str | None = None,
        all_time: bool = False,
    ) -> None:
        if "$timeFilter" not in query and not all_time:
            raise ValueError(f"a panel query must be limited by $timeFilter: {query}")
        self._query = InfluxQLQuery(ref_id, query, TABLE if table else TIME_SERIES, alias)

    def build(self) -> InfluxQLQuery:
        return self._query
