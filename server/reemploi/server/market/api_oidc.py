"""JSON API: an organisation's OpenID Connect provider, set by an administrator.

The client secret is written, never read back (the answer only says whether one is set).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from . import oidc_accounts, transaction
from .api import router
from .errors import N_, NotFound
from .http import MarketDep, perm
from .oidc import RETURN_PATH, Provider
from .roles import Permission as P


class ProviderSettings(BaseModel):
    issuer: str = Field(max_length=400)
    client_id: str = Field(max_length=400)
    client_secret: str | None = Field(default=None, max_length=400)


def _public(provider: Provider) -> dict[str, Any]:
    return {
        "organisation_id": provider.organisation_id,
        "issuer": provider.issuer,
        "client_id": provider.client_id,
        "client_secret_set": provider.client_secret is not None,
        "redirect_path": RETURN_PATH,
    }


@router.get(
    "/organisations/{organisation_id}/oidc",
    summary="Fournisseur OpenID Connect d'une structure",
    **perm(P.SETTINGS),
)
def get_oidc(organisation_id: str, m: MarketDep) -> dict[str, Any]:
    with m.engine.connect() as conn:
        summary = oidc_accounts.provider_summary(conn, organisation_id)
    if summary is None:
        raise NotFound(N_("This organisation has no sign-in service of its own."))
    return {**summary, "redirect_path": RETURN_PATH}


@router.put(
    "/organisations/{organisation_id}/oidc",
    summary="Définir le fournisseur OpenID Connect d'une structure",
    **perm(P.SETTINGS),
)
def put_oidc(organisation_id: str, body: ProviderSettings, m: MarketDep) -> dict[str, Any]:
    provider = transaction.write(
        m.engine,
        lambda conn: oidc_accounts.set_provider(
            conn,
            organisation_id,
            issuer=body.issuer,
            client_id=body.client_id,
            client_secret=body.client_secret,
            box=m.secret_box,
        ),
    )
    return _public(provider)


@router.delete(
    "/organisations/{organisation_id}/oidc",
    summary="Retirer le fournisseur OpenID Connect d'une structure",
    **perm(P.SETTINGS),
)
def delete_oidc(organisation_id: str, m: MarketDep) -> dict[str, str]:
    transaction.write(m.engine, lambda conn: oidc_accounts.remove_provider(conn, organisation_id))
    return {"status": "ok"}
