#!/usr/bin/env bash
# Installe les outils des tests de séries temporelles (Debian 12, root), idempotent.
# Installs what the time-series tests need (Debian 12, run as root), idempotently:
#   influxdb          Debian's 1.6.7: the 1.x HTTP API (/write, /query InfluxQL)
#   victoria-metrics  accepts the 2.x write API (/api/v2/write) from influxdb-client,
#                     so the v2 wire path is tested against a real server
# Never starts a system service: the tests start their own instances on free ports.
set -euo pipefail
source "$(dirname "$0")/lib/apt.sh"
ensure_debian_packages install-timeseries-tools influxdb victoria-metrics
require_binaries install-timeseries-tools influxd victoria-metrics
