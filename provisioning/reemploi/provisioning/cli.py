"""``reemploi-provision``: the installers' tool (readers, gateways, tags, labels, imports).

Messages are in French. Exit codes: 0 done, 1 refused (the message says why), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from reemploi.domain.digital_link import giai_uri

from .assets_import import FORMATS, import_assets
from .cli_devices import add_device_commands, say
from .firmware_nfc import simulated_reader
from .labels import LAYOUTS, LabelItem, render_labels
from .ntag21x import MODELS, plan_asset_tag, tag_password
from .pi_mfrc522 import open_pi_reader
from .registry import ProvisioningError
from .tag_link import ReaderUnavailable, TagError, TagLink
from .tag_writer import verify_asset_tag, write_asset_tag

DEFAULT_STATE = os.environ.get("REEMPLOI_PROVISION_STATE", "provisioning-state")


def _progress(done: int, total: int) -> None:
    width = 30
    filled = width * done // total
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


# ------------------------------------------------------------------ tags


def _uri(args: argparse.Namespace) -> str:
    if args.uri:
        return str(args.uri)
    if args.giai:
        return giai_uri(args.giai, args.domain)
    raise ProvisioningError("indiquez --uri ou --giai")


def _secret(args: argparse.Namespace) -> bytes | None:
    if args.no_password:
        return None
    if not args.secret_file:
        raise ProvisioningError("--secret-file (secret des étiquettes) ou --no-password requis")
    return Path(args.secret_file).read_bytes().strip()


def _tag_plan(args: argparse.Namespace) -> int:
    uri = _uri(args)
    uid = bytes.fromhex(args.uid) if args.uid else None
    secret = _secret(args) if (args.secret_file or args.no_password) else None
    password = tag_password(secret, uid) if secret is not None and uid is not None else None
    plan = plan_asset_tag(MODELS[args.model], uri, password)
    say(f"{plan.model.name} — {uri}")
    for write in plan.writes:
        data = write.data.hex(" ").upper()
        say(f"  page {write.page:3d} ({write.page:02X}h) ← {data}  {write.purpose}")
    return 0


def _reader_link(args: argparse.Namespace) -> TagLink:
    """``simule``: the firmware's MFRC522 driver on its register-level simulator, a blank
    tag in the field; ``mfrc522``: an RC522 on this Raspberry Pi's SPI bus."""
    if args.reader == "simule":
        reader = simulated_reader(bytes.fromhex(args.sim_uid), args.model)
        if args.sim_removal_after is not None:  # tests: the tag leaves after N frames
            reader.tag.answer_frames = reader.tag.frames + args.sim_removal_after
        return reader.link
    link = open_pi_reader(
        args.spi_bus,
        args.spi_device,
        reset_gpio=None if args.rst_gpio == "aucun" else int(args.rst_gpio),
    )
    say(f"Posez l'étiquette sur le lecteur (attente {args.wait:g} s)…")
    uid = link.wait_for_tag(args.wait)
    say(f"Étiquette {uid.hex().upper()} détectée.")
    return link


def _mark_done(plan_path: str | None, uri: str) -> None:
    if not plan_path:
        return
    path = Path(plan_path)
    entries = json.loads(path.read_text())
    for entry in entries:
        if entry["uri"] == uri:
            entry["status"] = "done"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(entries, indent=2, ensure_ascii=False) + "\n")
    temporary.replace(path)


def _tag_write(args: argparse.Namespace) -> int:
    uri = _uri(args)
    link = _reader_link(args)
    report = write_asset_tag(link, uri, _secret(args), force=args.force)
    _mark_done(args.plan, uri)
    verb = "écrite et vérifiée" if report.written else "déjà correcte"
    say(f"Étiquette {report.uid} ({report.model}) {verb} : {report.uri}")
    return 0


def _tag_verify(args: argparse.Namespace) -> int:
    link = _reader_link(args)
    report = verify_asset_tag(link, _uri(args), _secret(args))
    say(f"Étiquette {report.uid} ({report.model}) conforme : {report.uri}")
    return 0


# ------------------------------------------------------------------ labels, assets


def _labels(args: argparse.Namespace) -> int:
    items: list[LabelItem] = []
    if args.plan:
        for entry in json.loads(Path(args.plan).read_text()):
            identifier = entry["uri"].rsplit("/", 1)[-1]
            items.append(
                LabelItem(entry["uri"], entry.get("giai", identifier), entry.get("name", ""))
            )
    for giai in args.giai or []:
        items.append(LabelItem(giai_uri(giai, args.domain), giai))
    pages = render_labels(items, LAYOUTS[args.layout], Path(args.output), progress=_progress)
    say(f"{len(items)} étiquettes, {pages} page(s) : {args.output}")
    return 0


def _assets_import(args: argparse.Namespace) -> int:
    text = Path(args.file).read_text(encoding="utf-8-sig")
    report = import_assets(text, args.format, args.company_prefix, args.domain)
    for problem in report.problems:
        say(f"ERREUR {problem}")
    say(f"{len(report.assets)} actif(s) valides, {len(report.problems)} problème(s).")
    if not report.ok:
        say("Rien n'a été écrit : corrigez le fichier puis relancez.")
        return 1
    if args.dry_run:
        say("Essai à blanc : rien n'a été écrit.")
        return 0
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    assets = [a.__dict__ for a in report.assets]
    (output / "assets.json").write_text(json.dumps(assets, indent=2, ensure_ascii=False) + "\n")
    (output / "plan.json").write_text(
        json.dumps(report.plan(), indent=2, ensure_ascii=False) + "\n"
    )
    say(f"Écrit : {output / 'assets.json'} et le plan d'étiquetage {output / 'plan.json'}")
    return 0


# ------------------------------------------------------------------ parser


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reemploi-provision",
        description=(
            "Outil des installateurs Réemploi : lecteurs, passerelles, étiquettes, "
            "imports d'actifs."
        ),
    )
    parser.add_argument("--state", default=DEFAULT_STATE, help="dossier d'état (registre, CA)")
    groups = parser.add_subparsers(dest="group", required=True)

    add_device_commands(groups)

    tag = groups.add_parser("tag", help="étiquettes NFC").add_subparsers(
        dest="action", required=True
    )
    for name, run in (("plan", _tag_plan), ("write", _tag_write), ("verify", _tag_verify)):
        command = tag.add_parser(name)
        command.add_argument("--uri")
        command.add_argument("--giai")
        command.add_argument("--domain", default="https://id.gs1.org")
        command.add_argument("--model", choices=sorted(MODELS), default="NTAG213")
        command.add_argument("--secret-file", help="secret des mots de passe d'étiquettes")
        command.add_argument("--no-password", action="store_true")
        command.set_defaults(run=run)
        if name == "plan":
            command.add_argument("--uid", help="UID (hex) pour calculer le mot de passe")
        else:
            command.add_argument(
                "--reader",
                choices=("simule", "mfrc522"),
                default="simule",
                help="mfrc522 : RC522 sur le bus SPI d'un Raspberry Pi ; simule : simulateur",
            )
            command.add_argument("--spi-bus", type=int, default=0)
            command.add_argument("--spi-device", type=int, default=0, help="0 = CE0, 1 = CE1")
            command.add_argument(
                "--rst-gpio", default="25", help="broche RST (numérotation BCM) ou « aucun »"
            )
            command.add_argument(
                "--wait", type=float, default=15.0, help="secondes d'attente de l'étiquette"
            )
            command.add_argument("--sim-uid", default="04A1B2C3D4E5F6")
            command.add_argument(
                "--sim-removal-after", type=int, default=None, help=argparse.SUPPRESS
            )
            command.add_argument("--plan", help="plan.json à mettre à jour une fois vérifiée")
            command.add_argument(
                "--force", action="store_true", help="réécrire une autre étiquette"
            )

    labels = groups.add_parser("labels", help="planches d'étiquettes PDF")
    labels.add_argument("--plan", help="plan.json produit par assets import")
    labels.add_argument("--giai", action="append")
    labels.add_argument("--domain", default="https://id.gs1.org")
    labels.add_argument("--layout", choices=sorted(LAYOUTS), default="a4-3x8-70x37")
    labels.add_argument("--output", required=True)
    labels.set_defaults(run=_labels)

    assets = groups.add_parser("assets", help="actifs").add_subparsers(dest="action", required=True)
    importing = assets.add_parser("import", help="CSV, export GLPI ou Snipe-IT")
    importing.add_argument("file")
    importing.add_argument("--format", choices=sorted(FORMATS), default="csv")
    importing.add_argument("--company-prefix", required=True)
    importing.add_argument("--domain", default="https://id.gs1.org")
    importing.add_argument("--dry-run", action="store_true")
    importing.add_argument("--output", default="import")
    importing.set_defaults(run=_assets_import)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (ProvisioningError, TagError, ReaderUnavailable, ValueError, OSError) as problem:
        print(f"Refusé : {problem}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
