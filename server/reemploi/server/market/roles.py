"""Roles, permissions and the one table that grants them: deny by default.

A route names the single :class:`Permission` it needs; :data:`GRANTS` says which roles
hold it. A permission missing from the table is granted to nobody. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from .errors import N_


class Role(StrEnum):
    """What a person does in the reuse chain (one role per account)."""

    COLLECTION_POINT = "collection_point"
    CARRIER = "carrier"
    WORKSHOP = "workshop"  # sorting, refurbishment, data erasure
    RESELLER = "reseller"
    PUBLIC_BODY = "public_body"
    COMPANY = "company"
    NGO = "ngo"  # NGO or social worker
    METRO_MANAGER = "metro_manager"
    ADMIN = "admin"


class Permission(StrEnum):
    PUBLIC = "public"  # no account needed (login page, manifest, help)
    SIGNED_IN = "signed_in"  # any account
    DECLARE = "declare"
    VIEW_DECLARED_SUPPLY = "view_declared_supply"
    CLAIM = "claim"
    SIGN_PICKUP = "sign_pickup"
    VIEW_STOCK = "view_stock"
    VIEW_FORECAST = "view_forecast"
    GRADE = "grade"  # set grade, specifications and price of refurbished units
    BUY = "buy"
    FULFIL = "fulfil"  # hand a reserved lot over: sold or donated
    ISSUE_VOUCHER = "issue_voucher"
    REDEEM_VOUCHER = "redeem_voucher"
    TAP = "tap"
    INVITE = "invite"
    SETTINGS = "settings"


R = Role
_ALL = frozenset(Role)
_DECLARERS = frozenset({R.PUBLIC_BODY, R.COMPANY})
_REUSE_ACTORS = frozenset({R.WORKSHOP, R.RESELLER})
_MANAGERS = frozenset({R.METRO_MANAGER, R.ADMIN})

GRANTS: Mapping[Permission, frozenset[Role]] = {
    Permission.SIGNED_IN: _ALL,
    Permission.DECLARE: _DECLARERS,
    Permission.VIEW_DECLARED_SUPPLY: _REUSE_ACTORS | {R.CARRIER, R.COLLECTION_POINT} | _MANAGERS,
    Permission.CLAIM: _REUSE_ACTORS,
    Permission.SIGN_PICKUP: _DECLARERS | _REUSE_ACTORS | {R.CARRIER},
    Permission.VIEW_STOCK: _DECLARERS | _REUSE_ACTORS | {R.NGO} | _MANAGERS,
    Permission.VIEW_FORECAST: _REUSE_ACTORS | {R.CARRIER, R.COLLECTION_POINT} | _MANAGERS,
    Permission.GRADE: _REUSE_ACTORS,
    Permission.BUY: _DECLARERS,
    Permission.FULFIL: _REUSE_ACTORS,
    Permission.ISSUE_VOUCHER: frozenset({R.NGO}),
    Permission.REDEEM_VOUCHER: _REUSE_ACTORS,
    Permission.TAP: frozenset({R.COLLECTION_POINT, R.CARRIER, R.WORKSHOP, R.RESELLER}),
    Permission.INVITE: _MANAGERS,
    Permission.SETTINGS: frozenset({R.ADMIN}),
}


def allowed(role: Role | str | None, permission: Permission) -> bool:
    """Whether ``role`` holds ``permission``; no role holds anything but PUBLIC."""
    if permission is Permission.PUBLIC:
        return True
    if role is None:
        return False
    try:
        role = Role(role)
    except ValueError:
        return False
    return role in GRANTS.get(permission, frozenset())


ROLE_LABELS: Mapping[Role, str] = {
    # msgids, translated by the catalogues (French first)
    R.COLLECTION_POINT: N_("Collection point"),
    R.CARRIER: N_("Carrier"),
    R.WORKSHOP: N_("Workshop (sorting, refurbishment, data erasure)"),
    R.RESELLER: N_("Reseller"),
    R.PUBLIC_BODY: N_("Public body"),
    R.COMPANY: N_("Company"),
    R.NGO: N_("NGO / social worker"),
    R.METRO_MANAGER: N_("Metropolitan manager"),
    R.ADMIN: N_("Administrator"),
}
