"""HTTP API (FastAPI) and the French web page."""
