"""MQTT ingest: decode, deduplicate, resolve, apply the site's rule, record, acknowledge."""
