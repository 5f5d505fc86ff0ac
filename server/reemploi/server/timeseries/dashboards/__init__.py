"""Grafana dashboards as code (grafana-foundation-sdk, Grafana 11), queries in InfluxQL.

``reemploi-dashboards generate`` writes ``dashboards/json/*.json`` and the provisioning
files; ``reemploi-dashboards check`` fails when they differ from this code;
``reemploi-dashboards push`` sends them to a running Grafana (grafana-client).
"""
