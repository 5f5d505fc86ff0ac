"""JSON API of the marketplace (``/api/market``). Thin: every rule lives in the services.

The router is made here; the routes are registered by :mod:`.api_accounts`,
:mod:`.api_supply`, :mod:`.api_lots`, :mod:`.api_solidarity` and :mod:`.api_tap`
(imported by :func:`.install.install_market`).
"""

from __future__ import annotations

from .http import GuardedRouter

router = GuardedRouter(prefix="/api/market", tags=["marketplace"])
