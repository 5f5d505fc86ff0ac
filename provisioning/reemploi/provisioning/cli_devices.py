"""``reemploi-provision broker|reader|gateway``: the broker's files and device identities.

Messages are in French; :mod:`reemploi.provisioning.cli` builds the whole command.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from .bundles import GATEWAY_INSTALL_DIR
from .labels import LAYOUTS, claim_label_items, render_labels
from .platform_registry import GATEWAY_ROLE, READER_ROLES, PlatformRegistry, RevocationReport
from .registry import (
    GATEWAY_MODES,
    Enrolment,
    GatewayEnrolment,
    GatewayRecord,
    ProvisioningError,
    ProvisioningState,
    ReaderRecord,
)

__all__ = ["add_device_commands", "say"]

T = TypeVar("T")


def say(text: str) -> None:
    print(text)


def _reload(pid_file: str | None) -> None:
    """SIGHUP the broker so it reloads passwd/ACL (Mosquitto drops revoked clients)."""
    if not pid_file:
        say("Pensez à recharger le broker (SIGHUP) pour appliquer le changement.")
        return
    pid = int(Path(pid_file).read_text().strip())
    os.kill(pid, signal.SIGHUP)
    say(f"Broker rechargé (SIGHUP au PID {pid}).")


def _with_platform(url: str, action: Callable[[PlatformRegistry], T]) -> T:
    platform = PlatformRegistry.open(url)
    try:
        return action(platform)
    finally:
        platform.close()


def _say_registered(device: str, site: str, role: str) -> None:
    say(f"Inscrit au registre de la plateforme : {device}, site {site}, rôle {role}.")


def _revoke(args: argparse.Namespace, state: ProvisioningState, record: ReaderRecord |
            GatewayRecord, revoke: Callable[[], str | None], done: str) -> None:  # fmt: skip
    """Revoke on the broker and, with a database URL, in the platform's registry."""
    if not args.database_url:
        say(f"{done} ({revoke()}).")
        _reload(args.reload_pid_file)
        return
    report: RevocationReport = _with_platform(
        args.database_url,
        lambda platform: platform.revoke(state, record.device, record.state == "revoked", revoke),
    )
    if report.broker == "revoked":
        say(f"{done} ({report.revoked_at}).")
    else:
        say(f"{record.device} était déjà révoqué sur le broker ({record.revoked}).")
    say(
        {
            "revoked": "Marqué révoqué dans le registre de la plateforme.",
            "already": "Déjà révoqué dans le registre de la plateforme.",
            "absent": "Absent du registre de la plateforme : rien à y marquer "
            "(le serveur refuse déjà ses messages).",
        }[report.platform]
    )
    if report.broker == "revoked":
        _reload(args.reload_pid_file)


# ------------------------------------------------------------------ broker


def _broker_init(args: argparse.Namespace) -> int:
    state = ProvisioningState(Path(args.state))
    state.init(args.platform_url, args.host, args.tls_port, args.plain_port)
    say(f"Initialisé : {state.folder}")
    say(f"Fichiers du broker : {state.broker_folder} (mosquitto.conf, passwd, acl, crl.pem)")
    say(f"Compte de la plateforme : {state.folder / 'platform-credentials.json'}")
    return 0


def _broker_files(args: argparse.Namespace) -> int:
    state = ProvisioningState(Path(args.state))
    folder = state.write_broker_files()
    say(f"Fichiers du broker réécrits dans {folder}")
    if args.for_compose:
        conf = state.write_compose_conf(Path(args.for_compose))
        say(f"Configuration Mosquitto de docker-compose écrite : {conf}")
        say(f"Dans .env : MOSQUITTO_SECRETS_DIR={folder}")
    return 0


# ------------------------------------------------------------------ readers


def _reader_enroll(args: argparse.Namespace) -> int:
    state = ProvisioningState(Path(args.state))
    if args.database_url and not args.role:
        raise ProvisioningError(
            "--role est requis pour inscrire le lecteur au registre de la plateforme : "
            + ", ".join(READER_ROLES)
        )

    def enroll() -> Enrolment:
        enrolment = state.enroll(args.device, args.site, args.label or "", args.role or "")
        render_labels(
            list(claim_label_items(args.device, enrolment.claim_url, enrolment.claim_code)),
            LAYOUTS["thermique-50x25"],
            enrolment.bundle_folder / "etiquette-revendication.pdf",
            title=f"Revendication {args.device}",
        )
        return enrolment

    if args.database_url:
        enrolment = _with_platform(
            args.database_url,
            lambda platform: platform.enroll(
                state, args.device, args.site, args.role, "lecteur", enroll
            ),
        )
    else:
        enrolment = enroll()
    say(f"Lecteur {args.device} enrôlé sur le site {args.site}.")
    if args.database_url:
        _say_registered(args.device, args.site, args.role)
    say(f"Code de revendication (usage unique) : {enrolment.claim_code}")
    say(f"Paquet de configuration : {enrolment.bundle_folder} (config.json, certificats)")
    say(f"Étiquette de revendication : {enrolment.bundle_folder / 'etiquette-revendication.pdf'}")
    _reload(args.reload_pid_file)
    return 0


def _reader_revoke(args: argparse.Namespace) -> int:
    state = ProvisioningState(Path(args.state))
    record = state.load().readers.get(args.device)
    if record is None:
        raise ProvisioningError(f"lecteur « {args.device} » inconnu")
    done = f"Lecteur {args.device} révoqué"
    _revoke(args, state, record, lambda: state.revoke(args.device).revoked, done)
    return 0


def _rows(records: list[ReaderRecord] | list[GatewayRecord], extra: str) -> list[dict[str, Any]]:
    fields = ("device", "site", extra, "state", "created", "revoked", "label")
    return [{name: getattr(r, name) for name in fields} for r in records]


def _print_list(records: list[ReaderRecord] | list[GatewayRecord], extra: str, as_json: bool,
                nothing: str) -> None:  # fmt: skip
    if as_json:
        print(json.dumps(_rows(records, extra), indent=2, ensure_ascii=False))
        return
    if not records:
        say(nothing)
    for r in records:
        state = "actif" if r.state == "active" else f"RÉVOQUÉ le {r.revoked}"
        detail = getattr(r, extra) or "-"
        say(f"{r.device:<24} site {r.site:<16} {detail:<10} {state:<28} créé le {r.created} "
            f"{r.label}")  # fmt: skip


def _reader_list(args: argparse.Namespace) -> int:
    registry = ProvisioningState(Path(args.state)).load()
    _print_list(list(registry.readers.values()), "role", args.json, "Aucun lecteur enrôlé.")
    return 0


# ------------------------------------------------------------------ gateways


def _gateway_enroll(args: argparse.Namespace) -> int:
    state = ProvisioningState(Path(args.state))

    def enroll() -> GatewayEnrolment:
        return state.enroll_gateway(
            args.device, args.site, args.mode, args.label or "", args.install_dir
        )

    if args.database_url:
        enrolment = _with_platform(
            args.database_url,
            lambda platform: platform.enroll(
                state, args.device, args.site, GATEWAY_ROLE, "passerelle", enroll
            ),
        )
    else:
        enrolment = enroll()
    folder = enrolment.bundle_folder
    say(f"Passerelle {args.device} ({args.mode}) enrôlée sur le site {args.site}.")
    if args.database_url:
        _say_registered(args.device, args.site, GATEWAY_ROLE)
    say(f"Paquet de configuration : {folder} (gateway.toml, ca.crt, client.crt, client.key)")
    say(f"Sur la passerelle : gateway.toml → /etc/reemploi/gateway.toml, certificats → "
        f"{args.install_dir}/ ; puis effacez {folder} de ce poste.")  # fmt: skip
    _reload(args.reload_pid_file)
    return 0


def _gateway_revoke(args: argparse.Namespace) -> int:
    state = ProvisioningState(Path(args.state))
    record = state.load().gateways.get(args.device)
    if record is None:
        raise ProvisioningError(f"passerelle « {args.device} » inconnue")
    done = f"Passerelle {args.device} révoquée"
    _revoke(args, state, record, lambda: state.revoke_gateway(args.device).revoked, done)
    return 0


def _gateway_list(args: argparse.Namespace) -> int:
    registry = ProvisioningState(Path(args.state)).load()
    _print_list(list(registry.gateways.values()), "mode", args.json, "Aucune passerelle enrôlée.")
    return 0


# ------------------------------------------------------------------ parser


def _subcommands(groups: Any, name: str, help_text: str) -> Any:
    return groups.add_parser(name, help=help_text).add_subparsers(dest="action", required=True)


def _database_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--database-url",
        default=os.environ.get("REEMPLOI_DATABASE_URL") or None,
        metavar="URL",
        help="base de la plateforme (SQLAlchemy, ex. postgresql+psycopg://…) : y inscrire "
        "ou y révoquer aussi l'appareil ; défaut : REEMPLOI_DATABASE_URL",
    )


def add_device_commands(groups: Any) -> None:
    """Add ``broker``, ``reader`` and ``gateway`` to the tool's sub-commands."""
    broker = _subcommands(groups, "broker", "CA et fichiers Mosquitto")
    init = broker.add_parser(
        "init", help="créer la CA, le certificat du broker, le compte plateforme"
    )
    init.add_argument("--platform-url", required=True)
    init.add_argument("--host", action="append", required=True, help="nom(s) du broker")
    init.add_argument("--tls-port", type=int, default=8883)
    init.add_argument("--plain-port", type=int, default=1883)
    init.set_defaults(run=_broker_init)
    files = broker.add_parser("files", help="réécrire passwd, acl, crl, mosquitto.conf")
    files.add_argument(
        "--for-compose",
        metavar="DOSSIER",
        help="écrire aussi le mosquitto.conf du service docker-compose (deploy/mosquitto)",
    )
    files.set_defaults(run=_broker_files)

    reader = _subcommands(groups, "reader", "lecteurs")
    enroll = reader.add_parser("enroll", help="enrôler un lecteur")
    enroll.add_argument("device")
    enroll.add_argument("--site", required=True)
    enroll.add_argument("--label", help="libellé libre (emplacement)")
    enroll.add_argument(
        "--role",
        choices=READER_ROLES,
        help="rôle du lecteur sur son site (comptoir, quai, diagnostic…) ; requis avec "
        "--database-url",
    )
    enroll.add_argument("--reload-pid-file", help="fichier PID de Mosquitto à recharger")
    _database_option(enroll)
    enroll.set_defaults(run=_reader_enroll)
    revoke = reader.add_parser("revoke", help="révoquer un lecteur (volé, perdu, hors service)")
    revoke.add_argument("device")
    revoke.add_argument("--reload-pid-file")
    _database_option(revoke)
    revoke.set_defaults(run=_reader_revoke)
    listing = reader.add_parser("list", help="lister les lecteurs")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=_reader_list)

    gateway = _subcommands(groups, "gateway", "passerelles de site ou de véhicule")
    enroll = gateway.add_parser("enroll", help="enrôler une passerelle")
    enroll.add_argument("device", metavar="passerelle")
    enroll.add_argument("--site", required=True, help="site relayé (dépôt pour un véhicule)")
    enroll.add_argument("--mode", choices=GATEWAY_MODES, default="site")
    enroll.add_argument("--label", help="libellé libre (emplacement, immatriculation)")
    enroll.add_argument(
        "--install-dir",
        default=GATEWAY_INSTALL_DIR,
        help="dossier des certificats sur la passerelle (écrit dans gateway.toml)",
    )
    enroll.add_argument("--reload-pid-file", help="fichier PID de Mosquitto à recharger")
    _database_option(enroll)
    enroll.set_defaults(run=_gateway_enroll)
    revoke = gateway.add_parser("revoke", help="révoquer une passerelle")
    revoke.add_argument("device", metavar="passerelle")
    revoke.add_argument("--reload-pid-file")
    _database_option(revoke)
    revoke.set_defaults(run=_gateway_revoke)
    listing = gateway.add_parser("list", help="lister les passerelles")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=_gateway_list)
