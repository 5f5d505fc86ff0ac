"""SQL storage: table definitions, engine set-up and migrations."""
