"""The claimant chooses the pickup window within the allowed range (from the planned
date, not before today, for ``pickup_window_days`` days), refused field by field in
French otherwise; without a choice the whole range is offered."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from reemploi.server.db.market_tables import pickups
from reemploi.server.market.config import MarketRules
from reemploi.server.market.errors import InvalidInput
from reemploi.server.market.i18n import translate
from reemploi.server.market.localtime import LOCAL_ZONE as GRENOBLE
from reemploi.server.market.localtime import aware, local_today
from reemploi.server.market.pickups import choose_window
from reemploi.server.market.roles import Role

from .conftest import World
from .test_declarations_pickups import declare_two

PLANNED = date(2027, 3, 10)
TODAY = date(2027, 3, 1)
RULES = MarketRules(pickup_window_days=5)  # allowed: 10/03/2027 to 15/03/2027


def refusal(start: str | None, end: str | None) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        choose_window(PLANNED, TODAY, RULES, start, end)
    return {k: translate(v, "fr", caught.value.params) for k, v in caught.value.fields.items()}


def test_window_defaults_to_the_whole_allowed_range() -> None:
    start, end = choose_window(PLANNED, TODAY, RULES)
    assert start == datetime(2027, 3, 10, 8, tzinfo=GRENOBLE)
    assert end == datetime(2027, 3, 15, 18, tzinfo=GRENOBLE)
    late = choose_window(PLANNED, date(2027, 3, 12), RULES)  # never before today
    assert late[0].date() == date(2027, 3, 12) and late[1].date() == date(2027, 3, 17)
    chosen = choose_window(PLANNED, TODAY, RULES, "2027-03-11", "2027-03-11")
    assert chosen == (
        datetime(2027, 3, 11, 8, tzinfo=GRENOBLE),
        datetime(2027, 3, 11, 18, tzinfo=GRENOBLE),
    )


def test_window_hours_are_grenoble_time_in_winter_and_in_summer() -> None:
    # 8:00 to 18:00 local: 7:00 to 17:00 UTC before the clocks change (28 March 2027),
    # 6:00 to 16:00 UTC after
    winter = choose_window(PLANNED, TODAY, RULES, "2027-03-11", "2027-03-11")
    assert [t.astimezone(UTC).hour for t in winter] == [7, 17]
    summer = choose_window(date(2027, 3, 29), TODAY, RULES, "2027-03-30", "2027-03-30")
    assert [t.astimezone(UTC).hour for t in summer] == [6, 16]
    assert summer[0].isoformat() == "2027-03-30T08:00:00+02:00"


def test_today_is_the_day_in_grenoble() -> None:
    # 23:30 UTC on 9 March is already 10 March in Grenoble (0:30 CET)
    assert local_today(datetime(2027, 3, 9, 23, 30, tzinfo=UTC)) == date(2027, 3, 10)
    assert local_today(datetime(2027, 3, 9, 22, 30)) == date(2027, 3, 9)  # naive = UTC


def test_window_is_refused_field_by_field_in_french() -> None:
    assert refusal("2027-03-09", "2027-03-16") == {
        "window_start": "Choisissez un premier jour entre le 10/03/2027 et le 15/03/2027.",
        "window_end": "Choisissez un dernier jour entre le 10/03/2027 et le 15/03/2027.",
    }
    assert refusal("2027-03-13", "2027-03-11") == {
        "window_end": "Le dernier jour ne peut pas précéder le premier jour."
    }
    assert refusal("13/03/2027", "demain") == {
        "window_start": "Saisissez une date (AAAA-MM-JJ).",
        "window_end": "Saisissez une date (AAAA-MM-JJ).",
    }


def test_claim_through_the_api_keeps_the_chosen_window(world: World) -> None:
    declaration = declare_two(world)["id"]  # planned in 10 days
    planned = datetime.now(UTC).date() + timedelta(days=10)
    workshop = world.client(Role.WORKSHOP)
    too_late = (planned + timedelta(days=30)).isoformat()
    refused = workshop.post(
        f"/api/market/declarations/{declaration}/claim",
        json={"request_id": "claim-win-01", "window_start": too_late, "window_end": too_late},
    )
    assert refused.status_code == 422
    assert refused.json()["fields"]["window_start"].startswith("Choisissez un premier jour entre")
    with world.state.engine.connect() as conn:
        assert conn.execute(select(pickups)).all() == []  # nothing claimed on a refusal
    first, last = planned + timedelta(days=1), planned + timedelta(days=2)
    made = workshop.post(
        f"/api/market/declarations/{declaration}/claim",
        json={
            "request_id": "claim-win-02",
            "window_start": first.isoformat(),
            "window_end": last.isoformat(),
        },
    )
    assert made.status_code == 200, made.text
    listed = workshop.get("/api/market/pickups").json()[0]
    # returned in Grenoble time with its offset, stored as the UTC instant
    offset = datetime.combine(first, datetime.min.time(), GRENOBLE).strftime("%z")
    offset = offset[:3] + ":" + offset[3:]
    assert listed["window_start"] == f"{first.isoformat()}T08:00:00{offset}"
    assert listed["window_end"].startswith(last.isoformat() + "T18:00:00+0")
    with world.state.engine.connect() as conn:
        stored = conn.execute(select(pickups.c.window_start)).scalar_one()
    opens = datetime.combine(first, datetime.min.time().replace(hour=8), GRENOBLE)
    assert aware(stored) == opens  # the same instant (SQLite gives it back naive, in UTC)


def test_claim_form_shows_the_error_on_the_claimed_row(world: World) -> None:
    declaration = declare_two(world)["id"]
    planned = datetime.now(UTC).date() + timedelta(days=10)
    workshop = world.client(Role.WORKSHOP)
    page = workshop.get("/m/gisement")
    assert f'min="{planned.isoformat()}"' in page.text and 'name="window_end"' in page.text
    csrf = workshop.headers["X-CSRF-Token"]
    bad = workshop.post(
        f"/m/gisement/{declaration}/reserver",
        data={
            "csrf": csrf,
            "request_id": "claim-form-01",
            "window_start": (planned + timedelta(days=3)).isoformat(),
            "window_end": (planned + timedelta(days=1)).isoformat(),
        },
        follow_redirects=False,
    )
    assert bad.status_code == 422
    assert (
        '<p class="field-error" id="e-f-window_end">'
        "Le dernier jour ne peut pas précéder le premier jour.</p>"
    ) in bad.text
    assert 'href="#f-window_end"' in bad.text and 'id="f-window_end"' in bad.text
    good = workshop.post(
        f"/m/gisement/{declaration}/reserver",
        data={
            "csrf": csrf,
            "request_id": "claim-form-02",
            "window_start": (planned + timedelta(days=1)).isoformat(),
            "window_end": (planned + timedelta(days=3)).isoformat(),
        },
        follow_redirects=False,
    )
    assert good.status_code == 303
    shown = workshop.get("/m/enlevements").text
    first = (planned + timedelta(days=1)).strftime("%d/%m/%Y")
    last = (planned + timedelta(days=3)).strftime("%d/%m/%Y")
    assert f"{first} au {last}" in shown
