"""Enrolment reaches the platform's device registry (the server's SQL ``devices`` table).

The server accepts messages only from devices registered there (others are dead-lettered
as ``unknown_device``), so ``reader enroll`` / ``gateway enroll`` with a database URL
register the device too, and ``revoke`` marks it revoked there.

Both sides change together or not at all. Enrolment: the row is inserted in an open
transaction, the provisioning state is written, and only then is the transaction
committed; if the state cannot be written the transaction is rolled back, and if the
commit fails the state's new record is discarded (it was never handed out). Revocation
works the same way, except that a commit failing after the broker was told keeps the
broker's revocation (a stolen device stays cut off) and says so; running the same
command again completes the registry's side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from .registry import ProvisioningError, ProvisioningState

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

__all__ = [
    "GATEWAY_ROLE",
    "READER_ROLES",
    "PlatformRegistry",
    "PlatformRegistryError",
    "RevocationReport",
]

READER_ROLES = ("counter", "dock", "diagnostic", "erasure", "repair", "shop")
GATEWAY_ROLE = "gateway"

T = TypeVar("T")


class PlatformRegistryError(ProvisioningError):
    """The platform's registry refused or failed; the message says what was left done."""


def _reason(exc: BaseException) -> str:
    """The database's own words (a DBAPI error wrapped by SQLAlchemy), first line."""
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip()
    return (text.splitlines()[0] if text else type(cause).__name__)[:200]


@dataclass(frozen=True)
class RevocationReport:
    """What ``revoke`` did: ``broker`` is ``"revoked"`` or ``"already"``; ``platform`` is
    ``"revoked"``, ``"already"`` or ``"absent"`` (never registered there)."""

    device: str
    broker: str
    platform: str
    revoked_at: str | None


class PlatformRegistry:
    """The server's database, migrated to its newest schema on opening."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> PlatformRegistry:
        from reemploi.server.db.engine import make_engine, migrate

        try:
            engine = make_engine(url)
            migrate(engine)
        except Exception as exc:  # unreachable server, bad URL, refused login, …
            raise PlatformRegistryError(
                f"registre de la plateforme inaccessible ({_reason(exc)}) : rien n'a été fait"
            ) from exc
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------ enrolment

    def _check_new(self, conn: Connection, device: str, site: str) -> None:
        from sqlalchemy import select

        from reemploi.server.db.tables import devices, sites

        if conn.execute(select(sites.c.id).where(sites.c.id == site)).first() is None:
            raise PlatformRegistryError(
                f"le site « {site} » n'existe pas dans le registre de la plateforme : "
                "créez-le d'abord sur la plateforme (structure et site), puis relancez ; "
                "rien n'a été fait"
            )
        row = conn.execute(select(devices).where(devices.c.id == device)).first()
        if row is not None:
            state = "révoqué" if row.revoked else "actif"
            raise PlatformRegistryError(
                f"l'appareil « {device} » existe déjà dans le registre de la plateforme "
                f"(site {row.site_id}, rôle {row.role}, {state}) ; un identifiant n'est "
                "jamais réutilisé : rien n'a été fait"
            )

    def enroll(
        self,
        state: ProvisioningState,
        device: str,
        site: str,
        role: str,
        what: str,
        enroll: Callable[[], T],
    ) -> T:
        """Register ``device`` and run ``enroll`` (the state's side) as one change.

        ``what`` is « lecteur » or « passerelle », for the state's refusals.
        """
        from sqlalchemy.exc import SQLAlchemyError

        from reemploi.server.registry import Device, add_device

        state.check_new(state.load(), device, site, what)  # state refusals touch nothing
        with self.engine.connect() as conn:
            transaction = conn.begin()
            try:
                self._check_new(conn, device, site)
                add_device(conn, Device(device, site, role, None, False))
            except SQLAlchemyError as exc:
                transaction.rollback()
                raise PlatformRegistryError(
                    f"inscription de « {device} » au registre de la plateforme impossible "
                    f"({_reason(exc)}) : rien n'a été fait"
                ) from exc
            except BaseException:
                transaction.rollback()
                raise
            try:
                result = enroll()
            except BaseException as exc:
                transaction.rollback()
                self._undo(state, device, f"enrôlement interrompu ({_reason(exc)})")
                raise
            try:
                transaction.commit()
            except SQLAlchemyError as exc:
                self._undo(state, device, f"registre de la plateforme ({_reason(exc)})")
                raise PlatformRegistryError(
                    f"inscription de « {device} » au registre de la plateforme impossible "
                    f"({_reason(exc)}) : enrôlement annulé (compte MQTT, certificat et paquet "
                    "retirés), rien n'a été gardé ; relancez la commande"
                ) from exc
        return result

    @staticmethod
    def _undo(state: ProvisioningState, device: str, cause: str) -> None:
        try:
            state.discard(device)
        except Exception as exc:
            raise PlatformRegistryError(
                f"{cause} : « {device} » n'est PAS inscrit au registre de la plateforme, mais "
                f"l'état de provisionnement n'a pas pu être remis en ordre ({_reason(exc)}) ; "
                f"ne distribuez pas son paquet et révoquez-le"
            ) from exc

    # ------------------------------------------------------------ revocation

    def revoke(
        self,
        state: ProvisioningState,
        device: str,
        already_revoked: bool,
        revoke: Callable[[], str | None],
    ) -> RevocationReport:
        """Mark ``device`` revoked here and run ``revoke`` (the broker's side, returning
        the revocation time) unless ``already_revoked`` there."""
        from sqlalchemy import select, update
        from sqlalchemy.exc import SQLAlchemyError

        from reemploi.server.db.tables import devices

        with self.engine.connect() as conn:
            transaction = conn.begin()
            try:
                row = conn.execute(select(devices.c.revoked).where(devices.c.id == device)).first()
                platform = "absent" if row is None else "already" if row.revoked else "revoked"
                if platform == "revoked":
                    conn.execute(update(devices).where(devices.c.id == device).values(revoked=True))
            except SQLAlchemyError as exc:
                transaction.rollback()
                raise PlatformRegistryError(
                    f"registre de la plateforme ({_reason(exc)}) : « {device} » n'a été "
                    "révoqué nulle part ; relancez la commande"
                ) from exc
            if already_revoked and platform != "revoked":
                transaction.rollback()
                where = "absent du" if platform == "absent" else "déjà révoqué dans le"
                raise ProvisioningError(
                    f"« {device} » est déjà révoqué sur le broker et {where} registre de la "
                    "plateforme : rien à faire"
                )
            revoked_at = None
            if not already_revoked:
                try:
                    revoked_at = revoke()
                except BaseException:
                    transaction.rollback()
                    raise
            try:
                transaction.commit()
            except SQLAlchemyError as exc:
                broker = "déjà révoqué" if already_revoked else "révoqué"
                raise PlatformRegistryError(
                    f"« {device} » est {broker} sur le broker mais PAS dans le registre de la "
                    f"plateforme ({_reason(exc)}) ; relancez la même commande pour terminer"
                ) from exc
        broker = "already" if already_revoked else "revoked"
        return RevocationReport(device, broker, platform, revoked_at)
