"""The administrator edits solidarity shares, social prices, unit prices and warranties
in the settings page (not only the JSON API), refused field by field in French; the
new values drive the stock and quotes; other roles are refused."""

from __future__ import annotations

import re

from reemploi.server.market.config import MarketRules
from reemploi.server.market.roles import Role
from reemploi.server.market.settings_form import euros, form_values, percent

from .conftest import World


def stock_total(world: World) -> int:
    return int(world.client(Role.COMPANY).get("/api/market/stock?category=laptop").json()["total"])


def test_prices_form_is_filled_from_the_rules(world: World) -> None:
    page = world.client(Role.ADMIN).get("/m/admin").text
    assert 'action="/m/admin/tarifs"' in page
    assert re.search(r'id="f-share_laptop" name="share_laptop"[^>]*value="10"', page)
    assert re.search(r'id="f-social_laptop" name="social_laptop"[^>]*value="30"', page)
    assert re.search(r'id="f-price_laptop_A" name="price_laptop_A"[^>]*value="240"', page)
    assert re.search(r'id="f-warranty_A" name="warranty_A"[^>]*value="12"', page)
    assert (
        '<label class="sr-only" for="f-price_server_C">Prix grade C (€) — Serveur</label>' in page
    )
    assert euros(1550) == "15,50" and percent(0.125) == "12,5"


def test_admin_saves_shares_and_prices_from_the_page(world: World) -> None:
    admin = world.client(Role.ADMIN)
    assert stock_total(world) == 27  # 10 % of 30 laptops held back for solidarity
    form = {
        **form_values(MarketRules()),
        "share_laptop": "20",
        "social_laptop": "25,50",
        "price_laptop_A": "199,90",
        "warranty_A": "24",
        "share_screen": "5",
        "social_screen": "10",
        "csrf": admin.headers["X-CSRF-Token"],
    }
    saved = admin.post("/m/admin/tarifs", data=form, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == "/m/admin?ok=prices_saved"
    rules = admin.get("/api/market/settings").json()
    assert (
        rules["solidarity_share"]["laptop"] == 0.2 and rules["solidarity_share"]["screen"] == 0.05
    )
    assert rules["social_price_cents"]["laptop"] == 2550
    assert rules["unit_price_cents"]["laptop"]["A"] == 19990
    assert rules["warranty_months"]["A"] == 24
    assert stock_total(world) == 24  # the pool follows the new share
    buyer = world.client(Role.PUBLIC_BODY)
    lot = buyer.post(
        "/api/market/lots",
        json={"request_id": "lot-prix-01", "category": "laptop", "grade": "A", "quantity": 2},
    ).json()["id"]
    mine = next(x for x in buyer.get("/api/market/lots").json() if x["id"] == lot)
    assert mine["unit_price_cents"] == 19990 and mine["warranty_months"] == 24
    shown = admin.get("/m/admin?ok=prices_saved").text
    assert "Parts solidaires et prix enregistrés." in shown
    assert re.search(r'name="social_laptop"[^>]*value="25,50"', shown)


def test_bad_prices_are_refused_field_by_field_and_nothing_is_saved(world: World) -> None:
    admin = world.client(Role.ADMIN)
    before = admin.get("/api/market/settings").json()
    form = {
        **form_values(MarketRules()),
        "share_laptop": "60",
        "price_laptop_B": "-3",
        "warranty_C": "trois",
        "social_desktop": "",
        "csrf": admin.headers["X-CSRF-Token"],
    }
    refused = admin.post("/m/admin/tarifs", data=form)
    assert refused.status_code == 422
    errors = dict(
        re.findall(r'<p class="field-error" id="e-([a-z_A-C]+)">([^<]+)</p>', refused.text)
    )
    assert errors == {
        "share_laptop": "Saisissez un pourcentage entre 0 et 50.",
        "price_laptop_B": (
            "Saisissez un prix en euros entre 0,01 et 100000 (par exemple 240 ou 239,90)."
        ),
        "warranty_C": "Saisissez un nombre de mois entre 0 et 60.",
        "social_desktop": "Une catégorie qui a une part solidaire doit avoir un prix social.",
    }
    assert 'href="#f-share_laptop"' in refused.text  # the summary links to the field
    assert re.search(r'name="price_laptop_B"[^>]*value="-3"', refused.text)  # kept as typed
    assert admin.get("/api/market/settings").json() == before


def test_json_api_refuses_bad_price_settings_too(world: World) -> None:
    admin = world.client(Role.ADMIN)
    bad = admin.put("/api/market/settings", json={"unit_price_cents": {"laptop": {"A": -1}}})
    assert bad.status_code == 422
    assert bad.json()["fields"] == {
        "unit_price_cents": "Un prix unitaire est compris entre 0,01 et 100000 euros."
    }
    odd = admin.put("/api/market/settings", json={"solidarity_share": {"laptop": "beaucoup"}})
    assert odd.status_code == 422 and "solidarity_share" in odd.json()["fields"]
    days = admin.put("/api/market/settings", json={"reservation_days": "sept"})
    assert days.status_code == 422 and "reservation_days" in days.json()["fields"]


def test_only_the_administrator_edits_prices(world: World) -> None:
    manager = world.client(Role.METRO_MANAGER)
    page = manager.get("/m/admin")
    assert page.status_code == 200 and 'action="/m/admin/tarifs"' not in page.text
    form = {**form_values(MarketRules()), "csrf": manager.headers["X-CSRF-Token"]}
    for role in Role:
        if role is Role.ADMIN:
            continue
        client = world.client(role)
        form["csrf"] = client.headers["X-CSRF-Token"]
        assert client.post("/m/admin/tarifs", data=form).status_code == 403, role
