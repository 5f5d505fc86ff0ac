"""Pages: sign-in, invitation, home, language, help (the French guides), PWA files."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select

from ..db.market_tables import declarations, lots, pickups, vouchers
from ..db.tables import assets
from . import accounts, oidc_accounts
from .config import load_rules
from .errors import N_, MarketError, NotFound
from .http import COOKIE, LANG_COOKIE, MarketDep, MarketState, SessionDep, locale_of, perm
from .i18n import LOCALES, translate
from .roles import Permission as P
from .roles import Role, allowed
from .signin import set_session_cookie, sign_in
from .web import on_form, redirect, render, router

GUIDES = Path(__file__).resolve().parents[4] / "docs" / "guides"
STATIC = Path(__file__).resolve().parent / "static"
GUIDE_FOR_ROLE = {
    Role.COLLECTION_POINT: "point-de-collecte",
    Role.CARRIER: "transporteur",
    Role.WORKSHOP: "atelier",
    Role.RESELLER: "atelier",
    Role.PUBLIC_BODY: "declarant-acheteur",
    Role.COMPANY: "declarant-acheteur",
    Role.NGO: "solidarite",
    Role.METRO_MANAGER: "administration",
    Role.ADMIN: "administration",
}


def login_context(m: MarketState) -> dict[str, Any]:
    """What the sign-in page offers besides the password: the organisations' own
    providers, and the registration link when the platform is open."""
    with m.engine.connect() as conn:
        providers = oidc_accounts.providers_for_login(conn)
        open_registration = load_rules(conn).open_registration
    return {
        "providers": [(p["id"], p["name"]) for p in providers],
        "open_registration": open_registration,
    }


def _safe_next(value: str | None) -> str:
    return value if value and value.startswith("/m/") and "//" not in value else "/m/"


@router.get("/connexion", **perm(P.PUBLIC))
def login_page(request: Request, info: SessionDep, m: MarketDep) -> Response:
    if info is not None:
        return RedirectResponse("/m/", 303)
    return render(
        request,
        "login.html",
        None,
        suite=_safe_next(request.query_params.get("suite")),
        **login_context(m),
    )


@router.post("/connexion", **perm(P.PUBLIC))
async def login_submit(request: Request, m: MarketDep) -> Response:
    form = await request.form()
    email, password = str(form.get("email", "")), str(form.get("password", ""))
    target = _safe_next(str(form.get("suite", "")))
    try:
        _user, token, _csrf = sign_in(m, request, email, password)
    except MarketError as exc:
        locale = locale_of(request, None)
        return render(
            request,
            "login.html",
            None,
            status=exc.status,
            error=translate(exc.message, locale, exc.params),
            fields={k: translate(v, locale) for k, v in exc.fields.items()},
            values={"email": email},
            suite=target,
            **login_context(m),
        )
    response = RedirectResponse(target, 303)
    set_session_cookie(response, token, m)
    return response


@router.post("/deconnexion", **perm(P.SIGNED_IN))
def logout_submit(request: Request, m: MarketDep) -> Response:
    with m.engine.begin() as conn:
        accounts.close_session(conn, request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/m/connexion", 303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/invitation/{token}", **perm(P.PUBLIC))
def invitation_page(token: str, request: Request, m: MarketDep) -> Response:
    with m.engine.connect() as conn:
        found = accounts.invitation(conn, token)
    if found is None:
        raise NotFound(N_("This invitation is unknown, expired or already used."))
    return render(request, "invitation.html", None, invitation=found, token=token)


@router.post("/invitation/{token}", **perm(P.PUBLIC))
async def invitation_submit(token: str, request: Request, m: MarketDep) -> Response:
    form = await request.form()
    with m.engine.connect() as conn:
        found = accounts.invitation(conn, token)
    if found is None:
        raise NotFound(N_("This invitation is unknown, expired or already used."))

    def work() -> Any:
        with m.engine.begin() as conn:
            return accounts.accept_invitation(
                conn, token, str(form.get("name", "")), str(form.get("password", "")), m.hasher
            )

    return on_form(
        request,
        None,
        "invitation.html",
        lambda: {"invitation": found, "token": token},
        work,
        lambda _user: redirect("/m/connexion", "account_created"),
        values={"name": form.get("name", "")},
    )


@router.get("/langue/{code}", **perm(P.PUBLIC))
def set_language(code: str, request: Request) -> Response:
    back = request.headers.get("referer", "/m/")
    path = "/" + back.split("/", 3)[3] if back.count("/") >= 3 else "/m/"
    response = RedirectResponse(_safe_next(path.split("?")[0]), 303)
    if code in LOCALES:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", path="/")
    return response


@router.get("/", **perm(P.SIGNED_IN))
def home(request: Request, info: SessionDep, m: MarketDep) -> Response:
    assert info is not None
    org = info.user.organisation_id
    with m.engine.connect() as conn:
        counts = {
            "declarations": conn.execute(
                select(func.count())
                .select_from(declarations)
                .where(declarations.c.organisation_id == org)
            ).scalar_one(),
            "held": conn.execute(
                select(func.count()).select_from(assets).where(assets.c.holder_org_id == org)
            ).scalar_one(),
            "listed": conn.execute(
                select(func.count()).select_from(assets).where(assets.c.state == "listed")
            ).scalar_one(),
            "pickups": conn.execute(
                select(func.count()).select_from(pickups).where(pickups.c.status == "scheduled")
            ).scalar_one(),
            "lots": conn.execute(
                select(func.count()).select_from(lots).where(lots.c.buyer_org_id == org)
            ).scalar_one(),
            "vouchers": conn.execute(
                select(func.count()).select_from(vouchers).where(vouchers.c.issuer_org_id == org)
            ).scalar_one(),
        }
    return render(
        request,
        "home.html",
        info,
        counts=counts,
        guide=GUIDE_FOR_ROLE[info.user.role],
        can=lambda name: allowed(info.user.role, P(name)),
    )


_INLINE = [
    (
        re.compile(r"!\[([^\]]*)\]\(img/([A-Za-z0-9_.-]+)\)"),
        r'<img src="/m/aide/img/\2" alt="\1" loading="lazy">',
    ),
    (re.compile(r"\[([^\]]+)\]\(([a-z0-9-]+)\.md\)"), r'<a href="/m/aide/\2">\1</a>'),
    (re.compile(r"\*\*([^*]+)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
]


def markdown_to_html(text: str) -> str:
    """The small Markdown the guides use: headings, lists, images, links, bold, code."""
    out: list[str] = []
    in_list = False
    paragraph: list[str] = []

    def inline(line: str) -> str:
        line = html.escape(line, quote=False)
        for pattern, repl in _INLINE:
            line = pattern.sub(repl, line)
        return line

    def flush() -> None:
        if paragraph:
            out.append("<p>" + " ".join(inline(p) for p in paragraph) + "</p>")
            paragraph.clear()

    table: list[list[str]] = []

    def flush_table() -> None:
        if table:
            head, *body = table
            out.append(
                "<table><thead><tr>"
                + "".join(f'<th scope="col">{inline(c)}</th>' for c in head)
                + "</tr></thead><tbody>"
            )
            out.extend(
                "<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>" for row in body
            )
            out.append("</tbody></table>")
            table.clear()

    for raw in text.splitlines():
        line = raw.rstrip()
        if line.startswith("|"):
            flush()
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not all(set(c) <= set("-: ") for c in cells):
                table.append(cells)
            continue
        flush_table()
        if line.startswith("- ") or re.match(r"^\d+\. ", line):
            flush()
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append("<li>" + inline(line.split(" ", 1)[1]) + "</li>")
            continue
        if in_list:
            out.append("</ul>")
            in_list = False
        heading = re.match(r"^(#{1,3}) (.*)$", line)
        if heading:
            flush()
            level = len(heading.group(1))
            out.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
        elif not line:
            flush()
        else:
            paragraph.append(line)
    flush()
    flush_table()
    if in_list:
        out.append("</ul>")
    return "\n".join(out)


@router.get("/aide", **perm(P.PUBLIC))
def help_index(request: Request, info: SessionDep) -> Response:
    return help_page("index", request, info)


@router.get("/aide/img/{name}", **perm(P.PUBLIC))
def help_image(name: str) -> Response:
    path = GUIDES / "img" / name
    if not re.fullmatch(r"[A-Za-z0-9_.-]+\.png", name) or not path.is_file():
        raise NotFound(N_("Page not found."))
    return FileResponse(path, media_type="image/png")


@router.get("/aide/{name}", **perm(P.PUBLIC))
def help_page(name: str, request: Request, info: SessionDep) -> Response:
    path = GUIDES / f"{name}.md"
    if not re.fullmatch(r"[a-z0-9-]+", name) or not path.is_file():
        raise NotFound(N_("Page not found."))
    body = markdown_to_html(path.read_text(encoding="utf-8"))
    return render(request, "help.html", info, body=body)


@router.get("/manifest.webmanifest", **perm(P.PUBLIC))
def manifest() -> Response:
    return FileResponse(STATIC / "manifest.webmanifest", media_type="application/manifest+json")


@router.get("/sw.js", **perm(P.PUBLIC))
def service_worker() -> Response:
    return FileResponse(
        STATIC / "sw.js",
        media_type="text/javascript",
        headers={"Service-Worker-Allowed": "/m/", "Cache-Control": "no-cache"},
    )


@router.get("/hors-ligne", **perm(P.PUBLIC))
def offline_page(request: Request, info: SessionDep) -> HTMLResponse:
    return render(request, "offline.html", info)
