"""Test support: real services (Mosquitto, PostgreSQL, InfluxDB 1.x) started on demand.

See docs/testing.md. Import from ``support.services``.
"""
