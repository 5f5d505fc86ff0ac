"""``tag write`` and ``tag verify``: write an asset tag through a reader, read it back.

Refusals say precisely what is wrong (locked tag, tag of another asset, wrong
password, tag pulled away); a write that did not verify is never reported as done.
"""

from __future__ import annotations

from dataclasses import dataclass

from reemploi.protocol.ndef import MalformedNdef, tlv_length_needed, uri_from_tlv

from .ntag21x import (
    CC_PAGE,
    FIRST_USER_PAGE,
    PAGE_BYTES,
    NtagModel,
    TagPlan,
    model_from_version,
    plan_asset_tag,
    tag_password,
)
from .tag_link import TagError, TagLink, TagNak

__all__ = [
    "TagAlreadyWritten",
    "TagLocked",
    "TagMismatch",
    "TagProtected",
    "TagReport",
    "read_tag",
    "verify_asset_tag",
    "write_asset_tag",
]


class TagLocked(TagError):
    """Lock bits are set: the tag can never be written again."""


class TagAlreadyWritten(TagError):
    """The tag already holds another identifier."""

    def __init__(self, existing: str) -> None:
        super().__init__(f"l'étiquette porte déjà {existing} ; utilisez --force pour la réécrire")
        self.existing = existing


class TagProtected(TagError):
    """The tag is password-protected with a password we do not have."""


class TagMismatch(TagError):
    """What was read back is not what was planned."""


@dataclass(frozen=True)
class TagReport:
    uid: str
    model: str
    uri: str | None  # the URI read back
    protected: bool
    written: bool  # False when the tag already held the right URI


@dataclass(frozen=True)
class TagState:
    uid: bytes
    model: NtagModel
    pages: dict[int, bytes]
    uri: str | None
    auth0: int
    locked: bool


def _read_pages(link: TagLink, first: int, last: int) -> dict[int, bytes]:
    pages: dict[int, bytes] = {}
    page = first
    while page <= last:
        block = link.read(page)
        for offset in range(4):
            if page + offset <= last:
                pages[page + offset] = block[offset * PAGE_BYTES : (offset + 1) * PAGE_BYTES]
        page += 4
    return pages


def read_tag(link: TagLink) -> TagState:
    """UID, model, lock state, ``AUTH0`` and the URI on the tag (``None`` when empty)."""
    model = model_from_version(link.get_version())
    head = _read_pages(link, 0, 3)
    uid = head[0][:3] + head[1]
    dynamic_lock = _read_pages(link, model.dynamic_lock_page, model.cfg0_page)
    locked = head[2][2:4] != b"\x00\x00" or dynamic_lock[model.dynamic_lock_page][:3] != bytes(3)
    area = b""
    page = FIRST_USER_PAGE
    while page <= model.user_last_page:
        area += link.read(page)
        page += 4
        try:
            needed = tlv_length_needed(area)
        except MalformedNdef:
            break
        if needed and len(area) >= needed:
            break
    try:
        uri: str | None = uri_from_tlv(area)
    except MalformedNdef:
        uri = None
    pages = {**head, **dynamic_lock}
    for index in range(len(area) // PAGE_BYTES):
        pages[FIRST_USER_PAGE + index] = area[index * PAGE_BYTES : (index + 1) * PAGE_BYTES]
    auth0 = dynamic_lock[model.cfg0_page][3]
    return TagState(uid, model, pages, uri, auth0, locked)


def _compare(link: TagLink, plan: TagPlan) -> None:
    expected = plan.expected_pages()
    actual = _read_pages(link, min(expected), max(expected))
    for page, data in sorted(expected.items()):
        if actual[page] != data:
            raise TagMismatch(
                f"page {page} : lu {actual[page].hex().upper()}, attendu {data.hex().upper()}"
            )


def write_asset_tag(
    link: TagLink, uri: str, secret: bytes | None, *, force: bool = False
) -> TagReport:
    """Write ``uri`` (password-protected when ``secret`` is given), then verify it."""
    state = read_tag(link)
    if state.locked:
        raise TagLocked(
            f"étiquette {state.uid.hex().upper()} verrouillée définitivement : "
            "elle ne peut plus être écrite, utilisez-en une autre"
        )
    cc = state.pages[CC_PAGE]
    if cc not in (bytes(4), state.model.capability_container):
        found = cc.hex().upper()
        raise TagError(f"conteneur de capacité inattendu {found} : étiquette non NDEF")
    if state.uri == uri:
        try:
            verify_asset_tag(link, uri, secret)
        except TagMismatch:
            pass  # e.g. removed before the protection was complete: write it all again
        else:
            uid = state.uid.hex().upper()
            return TagReport(uid, state.model.name, uri, secret is not None, False)
    if state.uri not in (None, uri) and not force:
        raise TagAlreadyWritten(state.uri)
    password = tag_password(secret, state.uid) if secret is not None else None
    if state.auth0 <= state.model.user_last_page:
        if password is None:
            raise TagProtected("étiquette protégée par mot de passe : secret d'étiquettes requis")
        try:
            link.pwd_auth(password[0])
        except TagNak:
            raise TagProtected(
                "mot de passe refusé : étiquette protégée par une autre installation"
            ) from None
    plan = plan_asset_tag(state.model, uri, password)
    if cc == bytes(4):
        link.write(CC_PAGE, state.model.capability_container)
    for page_write in plan.writes:
        link.write(page_write.page, page_write.data)
    return verify_asset_tag(link, uri, secret)


def verify_asset_tag(link: TagLink, uri: str, secret: bytes | None) -> TagReport:
    """Read the tag back and compare every planned page; raises :class:`TagMismatch`."""
    state = read_tag(link)
    password = tag_password(secret, state.uid) if secret is not None else None
    plan = plan_asset_tag(state.model, uri, password)
    _compare(link, plan)
    if state.uri != uri:
        raise TagMismatch(f"l'étiquette porte {state.uri!r}, attendu {uri}")
    return TagReport(
        state.uid.hex().upper(), state.model.name, state.uri, password is not None, True
    )
