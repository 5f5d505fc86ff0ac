"""Each role's main journey in Debian's Chromium driven by Playwright: axe-core on every
page (no serious or critical violation), a screenshot of each page in
test-artifacts/market/, offline taps and forms replayed when the network comes back."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from reemploi.domain.custody import Step
from reemploi.server.db.market_tables import declarations
from reemploi.server.db.tables import assets
from reemploi.server.market.roles import Role
from reemploi.server.market.seed import DEMO_PASSWORD, seed_listed

from .conftest import World, make_world
from .oidc_provider import LocalProvider, Person

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "market"
SOON = (datetime.now(UTC).date() + timedelta(days=12)).isoformat()

if shutil.which("chromium") is None:  # pragma: no cover - scripts/install-browser.sh installs it
    pytest.skip("Debian chromium missing: run scripts/install-browser.sh", allow_module_level=True)

from axe_playwright_python.sync_playwright import Axe  # noqa: E402
from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, str]]:
    import uvicorn

    world = make_world(tmp_path_factory.mktemp("browser") / "market.db")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(world.app, host="127.0.0.1", port=port, log_level="warning")
    )  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield world, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


AXE = Axe()


def check(page: Page, name: str) -> None:
    """axe-core on the page (zero serious/critical) and a screenshot kept as artefact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    result = AXE.run(page)
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{name}: {bad}"


def signed_in(browser: Browser, base: str, world: World, role: Role, **kwargs: object) -> Page:
    context = browser.new_context(locale="fr-FR", viewport={"width": 412, "height": 900}, **kwargs)  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(base + "/m/connexion")
    page.get_by_label("Adresse électronique").fill(world.people[role][0])
    page.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(base + "/m/")
    return page


def test_sign_in_and_help_pages(served: tuple[World, str], browser: Browser) -> None:
    world, base = served
    page = browser.new_page(locale="fr-FR")
    page.goto(base + "/m/connexion")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    check(page, "connexion")
    page.get_by_label("Adresse électronique").fill(world.people[Role.NGO][0])
    page.get_by_label("Mot de passe").fill("pas-le-bon-mot-de-passe")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("alert")).to_contain_text("mot de passe incorrect")
    check(page, "connexion-erreur")
    page.goto(base + "/m/aide")
    expect(page.get_by_role("heading", level=1)).to_have_text("Aide — guides par rôle")
    check(page, "aide")
    manifest = page.request.get(base + "/m/manifest.webmanifest").json()
    assert manifest["lang"] == "fr" and manifest["start_url"] == "/m/"
    page.close()


def test_declarer_then_reuse_actor_claims_and_both_sign(
    served: tuple[World, str], browser: Browser
) -> None:
    world, base = served
    owner = signed_in(browser, base, world, Role.PUBLIC_BODY)
    check(owner, "accueil-collectivite")
    owner.goto(base + "/m/declarer")
    check(owner, "declarer")
    single = owner.locator("form").filter(has=owner.locator("input[value=single]"))
    single.get_by_label("Catégorie").select_option("laptop")
    single.get_by_label("Description").fill("Lenovo ThinkPad T480")
    single.get_by_label("Numéro de série").fill("PF1AB2CD")
    single.get_by_label("Date prévue").fill("2001-01-01")
    single.get_by_role("button", name="Déclarer").click()
    expect(owner.locator("#e-planned_date")).to_have_text("La date prévue ne peut pas être passée.")
    check(owner, "declarer-erreur")
    single = owner.locator("form").filter(has=owner.locator("input[value=single]"))
    single.get_by_label("Date prévue").fill(SOON)
    single.get_by_role("button", name="Déclarer").click()
    owner.wait_for_url(re.compile(r"/m/declarations"))
    expect(owner.get_by_role("cell", name="PF1AB2CD")).to_be_visible()
    check(owner, "mes-declarations")

    workshop = signed_in(browser, base, world, Role.WORKSHOP)
    workshop.goto(base + "/m/gisement")
    check(workshop, "gisement")
    workshop.get_by_role("button", name=re.compile("Réserver la déclaration")).first.click()
    workshop.wait_for_url(re.compile(r"/m/enlevements"))
    check(workshop, "enlevements")
    workshop.get_by_role("button", name="Signer la remise").first.click()
    expect(workshop.get_by_role("status").first).to_contain_text("signature est enregistrée")
    owner.goto(base + "/m/enlevements")
    owner.get_by_role("button", name="Signer la remise").first.click()
    expect(owner.get_by_role("status").first).to_contain_text("registre de traçabilité")
    owner.goto(base + "/m/declarations")
    expect(owner.get_by_text("collecté").first).to_be_visible()
    workshop.goto(base + "/m/prevision")
    check(workshop, "prevision")
    workshop.goto(base + "/m/atelier")
    check(workshop, "atelier")
    owner.context.close()
    workshop.context.close()


def test_buyer_gets_a_quote_and_reserves_a_lot(served: tuple[World, str], browser: Browser) -> None:
    world, base = served
    buyer = signed_in(browser, base, world, Role.COMPANY)
    buyer.goto(base + "/m/stock?category=laptop&grade=A&min_ram_gb=8")
    expect(buyer.locator("#stock-items tbody tr").first).to_be_visible()
    check(buyer, "stock")
    buyer.goto(base + "/m/lots")
    buyer.get_by_label("Catégorie").select_option("laptop")
    buyer.get_by_label("Grade").select_option("A")
    buyer.get_by_label("Quantité").fill("4")
    buyer.get_by_label("Mémoire minimale (Go)").fill("8")
    buyer.get_by_role("button", name="Obtenir un devis").click()
    buyer.wait_for_url(re.compile(r"ok=quoted"))
    quote = buyer.locator("#lots a").first
    pdf = buyer.request.get(base + quote.get_attribute("href"))
    assert pdf.ok and pdf.body().startswith(b"%PDF")
    buyer.get_by_role("button", name=re.compile("Accepter le devis")).first.click()
    expect(buyer.get_by_role("status").first).to_contain_text("le lot est réservé")
    check(buyer, "lots")
    seller = signed_in(browser, base, world, Role.WORKSHOP)
    seller.goto(base + "/m/remises")
    check(seller, "remises")
    seller.get_by_role("button", name="Vendu").first.click()
    expect(seller.get_by_role("status").first).to_contain_text("registre de traçabilité")
    buyer.context.close()
    seller.context.close()


def test_ngo_issues_a_voucher_and_the_shop_redeems_it(
    served: tuple[World, str], browser: Browser
) -> None:
    world, base = served
    ngo = signed_in(browser, base, world, Role.NGO)
    ngo.goto(base + "/m/bons")
    check(ngo, "bons")
    ngo.get_by_label("Matériel").select_option("laptop")
    ngo.get_by_label("Critère d’éligibilité vérifié").select_option("student_grant")
    ngo.get_by_role("button", name="Émettre le bon").click()
    code = ngo.locator("#voucher-code").inner_text().strip()
    assert re.fullmatch(r"[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}", code)
    check(ngo, "bon-emis")
    shop = signed_in(browser, base, world, Role.WORKSHOP)
    shop.goto(base + "/m/solidaire")
    check(shop, "solidaire")
    shop.get_by_label("Code du bon").fill(code)
    shop.get_by_label("Unité remise (part solidaire)").select_option(index=1)
    shop.get_by_role("button", name="Valider le bon et remettre").click()
    expect(shop.get_by_role("status").first).to_contain_text("Bon utilisé")
    shop.get_by_label("Code du bon").fill(code)
    shop.get_by_label("Unité remise (part solidaire)").select_option(index=1)
    shop.get_by_role("button", name="Valider le bon et remettre").click()
    expect(shop.get_by_role("alert")).to_contain_text("Ce bon a déjà été utilisé.")
    check(shop, "solidaire-refus")
    ngo.context.close()
    shop.context.close()


def test_collection_point_taps_online_then_offline_and_replays(
    served: tuple[World, str], browser: Browser
) -> None:
    world, base = served
    owner = world.client(Role.PUBLIC_BODY)
    owner.post(
        "/api/market/declarations",
        json={
            "request_id": "decl-browser-tap",
            "planned_date": SOON,
            "items": [
                {"category": "tablet", "serial": "T1"},
                {"category": "tablet", "serial": "T2"},
            ],
        },
    )
    items = [
        i
        for d in owner.get("/api/market/declarations").json()
        for i in d["items"]
        if i["serial"] in ("T1", "T2")
    ]
    staff = signed_in(browser, base, world, Role.COLLECTION_POINT)
    staff.goto(base + "/m/badge")
    expect(staff.locator("#tap-mode")).to_contain_text("NFC")  # no Web NFC on desktop Chromium
    staff.get_by_label("Code ou lien de l’étiquette").fill(items[0]["epc"])
    staff.get_by_role("button", name="Envoyer").click()
    expect(staff.locator("#tap-result")).to_have_text(re.compile("^Enregistré"))
    check(staff, "badge")
    staff.context.set_offline(True)
    staff.get_by_label("Code ou lien de l’étiquette").fill(items[1]["epc"])
    staff.get_by_role("button", name="Envoyer").click()
    expect(staff.locator("#tap-result")).to_contain_text("En attente")
    check(staff, "badge-hors-ligne")
    staff.context.set_offline(False)
    expect(staff.locator("#tap-log li").first).to_contain_text("Enregistré", timeout=10000)
    states = {
        i["serial"]: i["state"]
        for d in owner.get("/api/market/declarations").json()
        for i in d["items"]
    }
    assert states["T1"] == "collected" and states["T2"] == "collected"
    staff.context.close()


def test_offline_declaration_is_replayed_once(served: tuple[World, str], browser: Browser) -> None:
    world, base = served
    owner = signed_in(browser, base, world, Role.PUBLIC_BODY)
    owner.goto(base + "/m/declarer")
    with world.state.engine.connect() as conn:  # type: ignore[attr-defined]
        before = conn.execute(select(func.count()).select_from(declarations)).scalar_one()
    owner.context.set_offline(True)
    form = owner.locator("form").filter(has=owner.locator("input[value=rack]"))
    form.get_by_label("Emplacement de la baie").fill("Salle serveurs B2")
    form.get_by_label(re.compile("Équipements, un par ligne")).fill(
        "server; SRV-01\nnetwork; SW-02"
    )
    form.get_by_label("Date prévue").fill(SOON)
    form.get_by_role("button", name="Déclarer la baie").click()
    expect(owner.locator("#net")).to_contain_text("Hors ligne")
    # A second click while offline queues a copy with the same request_id.
    form.get_by_role("button", name="Déclarer la baie").click()
    owner.context.set_offline(False)
    expect(owner.locator("#net")).to_be_hidden(timeout=10000)
    with world.state.engine.connect() as conn:  # type: ignore[attr-defined]
        after = conn.execute(select(func.count()).select_from(declarations)).scalar_one()
    assert after == before + 1
    owner.context.close()


def test_admin_and_manager_pages(served: tuple[World, str], browser: Browser) -> None:
    world, base = served
    admin = signed_in(browser, base, world, Role.ADMIN)
    admin.goto(base + "/m/admin")
    check(admin, "admin")
    price = admin.get_by_label("Prix grade A (€) — Ordinateur portable")
    price.fill("deux cents")
    admin.get_by_role("button", name="Enregistrer les prix").click()
    expect(admin.locator("#e-price_laptop_A")).to_contain_text("Saisissez un prix en euros")
    check(admin, "admin-prix-erreur")
    admin.get_by_label("Prix grade A (€) — Ordinateur portable").fill("235,50")
    admin.get_by_role("button", name="Enregistrer les prix").click()
    expect(admin.get_by_role("status").first).to_contain_text("Parts solidaires et prix")
    expect(admin.get_by_label("Prix grade A (€) — Ordinateur portable")).to_have_value("235,50")
    admin.get_by_label("Adresse électronique").fill("atelier@vizille.example")
    admin.get_by_label("Rôle").select_option("workshop")
    admin.get_by_label("Nom de la nouvelle structure").fill("Atelier de Vizille")
    admin.get_by_label("Commune", exact=True).fill("Vizille")
    admin.get_by_role("button", name="Inviter").click()
    expect(admin.locator("#invitation-link")).to_be_visible()
    link = admin.locator("#invitation-link").get_attribute("href")
    guest = browser.new_page(locale="fr-FR")
    guest.goto(base + link)
    check(guest, "invitation")
    guest.close()
    manager = signed_in(browser, base, world, Role.METRO_MANAGER)
    manager.goto(base + "/m/stock")
    check(manager, "stock-metropole")
    manager.goto(base + "/m/langue/en")
    expect(manager.locator("html")).to_have_attribute("lang", "en")
    check(manager, "home-en")
    admin.context.close()
    manager.context.close()


def test_self_registration_then_approval(served: tuple[World, str], browser: Browser) -> None:
    world, base = served
    admin_api = world.client(Role.ADMIN)
    admin_api.put("/api/market/settings", json={"open_registration": True})
    guest = browser.new_page(locale="fr-FR")
    guest.goto(base + "/m/connexion")
    guest.get_by_role("link", name="Demander un compte").click()
    guest.wait_for_url(base + "/m/inscription")
    check(guest, "inscription")
    guest.get_by_label("Adresse électronique").fill(world.people[Role.NGO][0])  # taken
    guest.get_by_label("Votre nom").fill("Alex Durand")
    guest.get_by_label("Mot de passe").fill("un-mot-de-passe-long")
    guest.get_by_label("Rôle").select_option("collection_point")
    guest.get_by_label("Nom de votre structure").fill("Ressourcerie de Vif")
    guest.get_by_label("Commune").fill("Vif")
    guest.get_by_role("button", name="Envoyer ma demande").click()
    expect(guest.locator("#e-email")).to_contain_text("existe déjà pour cette adresse")
    check(guest, "inscription-erreur")
    guest.get_by_label("Adresse électronique").fill("contact@ressourcerie-vif.example")
    guest.get_by_label("Mot de passe").fill("un-mot-de-passe-long")
    guest.get_by_role("button", name="Envoyer ma demande").click()
    expect(guest.get_by_role("status").first).to_contain_text("Votre demande est enregistrée")
    admin = signed_in(browser, base, world, Role.ADMIN)
    admin.goto(base + "/m/admin")
    expect(admin.locator("#registrations")).to_contain_text("Ressourcerie de Vif")
    check(admin, "admin-inscriptions")
    admin.get_by_role("button", name="Approuver la demande de Alex Durand").click()
    expect(admin.get_by_role("status").first).to_contain_text("Inscription approuvée")
    guest.goto(base + "/m/connexion")
    guest.get_by_label("Adresse électronique").fill("contact@ressourcerie-vif.example")
    guest.get_by_label("Mot de passe").fill("un-mot-de-passe-long")
    guest.get_by_role("button", name="Se connecter").click()
    guest.wait_for_url(base + "/m/")
    expect(guest.locator(".who")).to_contain_text("Point de collecte")
    admin_api.put("/api/market/settings", json={"open_registration": False})
    guest.close()
    admin.context.close()


def test_stock_page_updates_live_on_a_phone_tap_and_a_reservation(
    served: tuple[World, str], browser: Browser
) -> None:
    world, base = served
    reseller = world.people[Role.RESELLER]
    with world.state.engine.begin() as conn:  # type: ignore[attr-defined]
        screens = seed_listed(
            conn,
            owner_org=world.people[Role.COMPANY][1],
            owner_site=world.people[Role.COMPANY][2],
            holder_org=reseller[1],
            holder_site=reseller[2],
            category="screen",
            grade="B",
            ram_gb=None,
            count=2,
            prefix="9521234V",
            until=Step.REFURBISH,  # refurbished, not listed yet: the shop's tap lists them
        )
        epcs = list(conn.execute(select(assets.c.epc).where(assets.c.id.in_(screens))).scalars())
    buyer = signed_in(browser, base, world, Role.COMPANY)
    buyer.goto(base + "/m/stock?category=screen")
    rows = buyer.locator("#stock-items tbody tr")
    expect(rows).to_have_count(0)
    expect(buyer.locator("#stock-tables")).to_have_attribute("data-live", "open")
    buyer.evaluate("window.sameDocument = true")
    shop = world.client(Role.RESELLER)
    seq = shop.get("/api/market/tap/device").json()["next_seq"]
    tapped = shop.post("/api/market/tap", json={"seq": seq, "kind": "qr", "data": epcs[0]})
    assert tapped.json()["result"] == "accepted", tapped.text
    expect(rows).to_have_count(1)
    expect(buyer.locator("#stock-items tbody tr.changed")).to_have_count(1)
    expect(buyer.locator("#stock-count")).to_have_text("1 unités correspondantes")
    shop.post("/api/market/tap", json={"seq": seq + 1, "kind": "qr", "data": epcs[1]})
    expect(rows).to_have_count(2)
    expect(buyer.locator("#stock-live")).to_contain_text("Stock mis à jour")
    check(buyer, "stock-en-direct")
    # A reservation elsewhere takes the units out of the visible stock, live too.
    other = world.client(Role.PUBLIC_BODY)
    lot = other.post(
        "/api/market/lots",
        json={"request_id": "lot-live-01", "category": "screen", "grade": "B", "quantity": 2},
    ).json()["id"]
    assert other.post(f"/api/market/lots/{lot}/accept").status_code == 200
    expect(rows).to_have_count(0)
    assert buyer.evaluate("window.sameDocument") is True  # never reloaded
    buyer.context.close()


def test_sign_in_through_the_organisations_own_provider(
    served: tuple[World, str], browser: Browser
) -> None:
    world, base = served
    provider = LocalProvider(person=Person("u-9", "dsi@meylan-tech.example", name="Sam Leroy"))
    provider.start()
    org = world.people[Role.COMPANY][1]
    admin = world.client(Role.ADMIN)
    try:
        admin.put(
            f"/api/market/organisations/{org}/oidc",
            json={
                "issuer": provider.url,
                "client_id": provider.client_id,
                "client_secret": provider.client_secret,
            },
        )
        world.client(Role.METRO_MANAGER).post(
            "/api/market/invitations",
            json={"email": "dsi@meylan-tech.example", "role": "company", "organisation_id": org},
        )
        page = browser.new_page(locale="fr-FR")
        page.goto(base + "/m/connexion")
        check(page, "connexion-annuaire")
        page.get_by_label("Votre structure").select_option(org)
        page.get_by_role("button", name="Continuer avec ma structure").click()
        page.wait_for_url(base + "/m/")  # there and back through the provider
        expect(page.locator(".who")).to_contain_text("Sam Leroy")
        provider.fault = "bad_signature"
        other = browser.new_page(locale="fr-FR")
        other.goto(base + "/m/connexion")
        other.get_by_label("Votre structure").select_option(org)
        other.get_by_role("button", name="Continuer avec ma structure").click()
        expect(other.get_by_role("alert")).to_contain_text("signature de l’identité")
        check(other, "connexion-annuaire-refus")
        page.close()
        other.close()
    finally:
        admin.delete(f"/api/market/organisations/{org}/oidc")
        provider.close()
