"""The zero-install demo: in-process broker, SQLite, server and simulated readers."""
