"""The French catalogue covers every message of the code and templates; pages speak
French by default and English on request, with the matching lang attribute."""

from __future__ import annotations

from babel.messages.pofile import read_po

from reemploi.server.market.catalogue import extract
from reemploi.server.market.i18n import po_path, translate
from reemploi.server.market.roles import Role

from .conftest import World


def test_every_message_has_a_french_translation() -> None:
    with po_path("fr").open("rb") as handle:
        french = read_po(handle, locale="fr")
    missing = [
        m.id for m in extract() if m.id and not (french.get(m.id) and french.get(m.id).string)
    ]
    assert missing == []
    assert translate("Sign in", "fr") == "Se connecter"
    assert translate("Sign in", "en") == "Sign in"


def test_pages_are_french_by_default_and_english_on_request(world: World) -> None:
    client = world.client(Role.WORKSHOP)
    page = client.get("/m/stock")
    assert '<html lang="fr">' in page.text and "Stock reconditionné" in page.text
    client.cookies.set("reemploi_lang", "en")
    page = client.get("/m/stock")
    assert '<html lang="en">' in page.text and "Refurbished stock" in page.text


def test_each_role_has_a_french_guide_reachable_from_help(world: World) -> None:
    import re
    from pathlib import Path

    from reemploi.server.market.pages import GUIDE_FOR_ROLE, GUIDES

    client = world.client()
    index = client.get("/m/aide")
    assert index.status_code == 200
    for role, name in GUIDE_FOR_ROLE.items():
        assert f'href="/m/aide/{name}"' in index.text, role
        page = client.get(f"/m/aide/{name}")
        assert page.status_code == 200 and "<h1>" in page.text
        for image in re.findall(r"!\[[^\]]*\]\(img/([^)]+)\)", (GUIDES / f"{name}.md").read_text()):
            assert (GUIDES / "img" / image).is_file(), image
            assert client.get(f"/m/aide/img/{image}").status_code == 200
    assert client.get("/m/aide/..%2Fsecret").status_code == 404
    assert Path(GUIDES / "administration.md").is_file()
    assert "<table>" in client.get("/m/aide/administration").text
