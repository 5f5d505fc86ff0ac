"""reemploi-provision end to end: readers, asset import (dry run), tags, labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reemploi.provisioning.cli import main

GLPI_EXPORT = """Nom;Numéro de série;Numéro d'inventaire;Type;Fabricant;Modèle
Portable compta;SN-001;PC0001;Ordinateur;Dell;Latitude 5490
Portable RH;SN-001;PC0002;Ordinateur;Dell;Latitude 5490
Écran accueil;SN-003;EC 03;Moniteur;Iiyama;XUB2492
Poste atelier;SN-004;PC0001;Ordinateur;HP;ProDesk 400
Tronquée;SN-005
Tablette;SN-006;TB0006;Tablette;Samsung;Tab A
"""


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_reader_enroll_list_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = str(tmp_path / "etat")
    code, _ = _run(
        capsys,
        "--state",
        state,
        "broker",
        "init",
        "--platform-url",
        "https://reemploi.test",
        "--host",
        "mqtt.reemploi.test",
    )
    assert code == 0
    code, out = _run(
        capsys, "--state", state, "reader", "enroll", "lecteur-1", "--site", "dechetterie-1"
    )
    assert code == 0 and "Code de revendication" in out
    bundle = tmp_path / "etat/bundles/lecteur-1"
    config = json.loads((bundle / "config.json").read_text())
    assert config["device"] == "lecteur-1" and config["site"] == "dechetterie-1"
    assert config["broker"]["host"] == "mqtt.reemploi.test" and config["broker"]["password"]
    assert (bundle / "etiquette-revendication.pdf").read_bytes().startswith(b"%PDF")
    registry = (tmp_path / "etat/registry.json").read_text()
    assert config["broker"]["password"] not in registry  # only the hash is kept
    # A reader id that already exists is refused, and nothing changes.
    code, out = _run(capsys, "--state", state, "reader", "enroll", "lecteur-1", "--site", "x")
    assert code == 1 and "existe déjà" in out
    code, out = _run(capsys, "--state", state, "reader", "list", "--json")
    assert [r["state"] for r in json.loads(out)] == ["active"]
    code, out = _run(capsys, "--state", state, "reader", "revoke", "lecteur-1")
    assert code == 0
    assert "lecteur-1" not in (tmp_path / "etat/broker/passwd").read_text()
    assert "user lecteur-1" not in (tmp_path / "etat/broker/acl").read_text()
    code, out = _run(capsys, "--state", state, "reader", "revoke", "lecteur-1")
    assert code == 1 and "déjà révoqué" in out
    code, out = _run(capsys, "--state", state, "reader", "enroll", "lecteur-1", "--site", "x")
    assert code == 1  # ids are never reused


def test_gateway_enroll_list_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = str(tmp_path / "etat")
    init = ["--state", state, "broker", "init", "--platform-url", "https://r.test"]
    assert _run(capsys, *init, "--host", "mqtt.r.test")[0] == 0
    assert _run(capsys, "--state", state, "reader", "enroll", "lecteur-1", "--site", "s1")[0] == 0
    code, out = _run(
        capsys, "--state", state, "gateway", "enroll", "camion-12", "--site", "depot-sud",
        "--mode", "vehicle", "--label", "AB-123-CD", "--install-dir", "/opt/gw",
    )  # fmt: skip
    assert code == 0 and "Passerelle camion-12 (vehicle) enrôlée" in out
    settings = (tmp_path / "etat/bundles/camion-12/gateway.toml").read_text()
    assert 'central_certfile = "/opt/gw/client.crt"' in settings
    assert 'mode = "vehicle"' in settings and 'central_host = "mqtt.r.test"' in settings
    acl = (tmp_path / "etat/broker/acl").read_text()
    assert "user camion-12\ntopic write reemploi/v1/depot-sud/+/scan\n" in acl
    # One id space for readers and gateways: an MQTT user name, a topic level.
    for group, device in (("gateway", "lecteur-1"), ("reader", "camion-12")):
        code, out = _run(capsys, "--state", state, group, "enroll", device, "--site", "s1")
        assert code == 1 and "existe déjà" in out, out
    code, out = _run(capsys, "--state", state, "gateway", "list", "--json")
    rows = json.loads(out)
    assert [(r["device"], r["mode"], r["state"], r["label"]) for r in rows] == [
        ("camion-12", "vehicle", "active", "AB-123-CD")
    ]
    code, out = _run(capsys, "--state", state, "gateway", "revoke", "camion-12")
    assert code == 0 and "révoquée" in out
    assert "camion-12" not in (tmp_path / "etat/broker/passwd").read_text()
    assert "user camion-12" not in (tmp_path / "etat/broker/acl").read_text()
    code, out = _run(capsys, "--state", state, "gateway", "revoke", "camion-12")
    assert code == 1 and "déjà révoquée" in out
    code, out = _run(capsys, "--state", state, "gateway", "revoke", "lecteur-1")
    assert code == 1 and "passerelle « lecteur-1 » inconnue" in out
    code, out = _run(capsys, "--state", state, "gateway", "list")
    assert "RÉVOQUÉ le" in out and "vehicle" in out
    with pytest.raises(SystemExit):
        main(["--state", state, "gateway", "enroll", "gw-x", "--site", "s1", "--mode", "train"])


def test_assets_import_dry_run_reports_every_problem_line_by_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "glpi.csv"
    export.write_text(GLPI_EXPORT, encoding="utf-8-sig")
    out_dir = tmp_path / "import"
    code, out = _run(
        capsys,
        "assets",
        "import",
        str(export),
        "--format",
        "glpi",
        "--company-prefix",
        "4012345",
        "--dry-run",
        "--output",
        str(out_dir),
    )
    assert code == 1
    errors = [line for line in out.splitlines() if line.startswith("ERREUR")]
    assert errors == [
        "ERREUR ligne 3 : numéro de série SN-001 en double (déjà ligne 2)",
        "ERREUR ligne 4 : GIAI 4012345EC 03 invalide : GIAI (AI 8004) '4012345EC 03' contains"
        " ' ', which is not in GS1 character set 82",
        "ERREUR ligne 5 : GIAI 4012345PC0001 en double (déjà ligne 2)",
        "ERREUR ligne 6 : 2 colonnes au lieu de 6",
    ]
    assert not out_dir.exists()


def test_import_then_write_tags_and_print_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "actifs.csv"
    export.write_text(
        "reference,name,serial,gln\nPC0001,Portable,SN1,4012345000054\nPC0002,Écran,SN2,\n"
    )
    out_dir = tmp_path / "import"
    code, out = _run(
        capsys,
        "assets",
        "import",
        str(export),
        "--company-prefix",
        "4012345",
        "--output",
        str(out_dir),
    )
    assert code == 0, out
    plan_path = out_dir / "plan.json"
    plan = json.loads(plan_path.read_text())
    assert [p["uri"] for p in plan] == [
        "https://id.gs1.org/8004/4012345PC0001",
        "https://id.gs1.org/8004/4012345PC0002",
    ]
    secret = tmp_path / "secret"
    secret.write_text("secret-des-etiquettes\n")
    code, out = _run(
        capsys,
        "tag",
        "write",
        "--uri",
        plan[0]["uri"],
        "--secret-file",
        str(secret),
        "--plan",
        str(plan_path),
    )
    assert code == 0 and "écrite et vérifiée" in out
    assert [p["status"] for p in json.loads(plan_path.read_text())] == ["done", "pending"]
    code, out = _run(capsys, "tag", "write", "--uri", plan[1]["uri"], "--reader", "mfrc522")
    assert code == 1 and "Refusé" in out and "spidev" in out  # not a Raspberry Pi
    code, out = _run(capsys, "tag", "plan", "--giai", "4012345PC0001", "--model", "NTAG215")
    assert code == 0 and "page   4 (04h) ← 03 00 FE 00  ndef-empty" in out
    pdf = tmp_path / "planche.pdf"
    code, out = _run(capsys, "labels", "--plan", str(plan_path), "--output", str(pdf))
    assert code == 0 and "2 étiquettes, 1 page(s)" in out
    assert pdf.read_bytes().startswith(b"%PDF")


def test_import_refuses_a_wrong_gln_check_digit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "actifs.csv"
    export.write_text("reference,gln\nPC0001,4012345000055\n")
    code, out = _run(
        capsys,
        "assets",
        "import",
        str(export),
        "--company-prefix",
        "4012345",
        "--output",
        str(tmp_path / "out"),
    )
    assert code == 1 and "ligne 2 : GLN 4012345000055" in out
    assert not (tmp_path / "out").exists()
