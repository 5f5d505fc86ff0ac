"""tag write / verify against the page-level NTAG21x model (lock bits, AUTH0/PWD, removal)."""

from __future__ import annotations

import pytest

from reemploi.provisioning.ntag21x import MODELS, tag_password
from reemploi.provisioning.tag_link import TagGone, TagNak
from reemploi.provisioning.tag_sim import SimulatedNtag
from reemploi.provisioning.tag_writer import (
    TagAlreadyWritten,
    TagLocked,
    TagMismatch,
    TagProtected,
    read_tag,
    verify_asset_tag,
    write_asset_tag,
)

UID = bytes.fromhex("04A1B2C3D4E5F6")
URI = "https://id.gs1.org/8004/4012345ABC345"
OTHER = "https://id.gs1.org/8004/4012345XYZ9"
SECRET = b"secret-des-etiquettes"


@pytest.mark.parametrize("model", sorted(MODELS))
def test_write_then_verify_each_model(model: str) -> None:
    tag = SimulatedNtag(UID, model)
    report = write_asset_tag(tag, URI, SECRET)
    assert (report.uri, report.model, report.protected, report.written) == (URI, model, True, True)
    assert verify_asset_tag(tag, URI, SECRET).uri == URI
    # Protection is on: a phone app (no password) cannot overwrite the NDEF pages.
    tag.authenticated = False
    with pytest.raises(TagNak):
        tag.write(4, b"\x03\x00\xfe\x00")
    # …and the password is per tag.
    assert tag.pwd_auth(tag_password(SECRET, UID)[0]) == tag_password(SECRET, UID)[1]


def test_rewriting_the_same_identifier_is_idempotent() -> None:
    tag = SimulatedNtag(UID)
    write_asset_tag(tag, URI, SECRET)
    writes = tag.write_count
    assert write_asset_tag(tag, URI, SECRET).written is False
    assert tag.write_count == writes


def test_tag_of_another_asset_is_refused_without_force() -> None:
    tag = SimulatedNtag(UID)
    write_asset_tag(tag, URI, SECRET)
    with pytest.raises(TagAlreadyWritten) as caught:
        write_asset_tag(tag, OTHER, SECRET)
    assert caught.value.existing == URI
    assert write_asset_tag(tag, OTHER, SECRET, force=True).uri == OTHER


def test_protected_tag_with_another_secret_is_refused() -> None:
    tag = SimulatedNtag(UID)
    write_asset_tag(tag, URI, SECRET)
    with pytest.raises(TagProtected):
        write_asset_tag(tag, OTHER, b"autre-secret", force=True)
    with pytest.raises(TagProtected):
        write_asset_tag(tag, OTHER, None, force=True)
    assert read_tag(tag).uri == URI


def test_permanently_locked_tag_is_refused() -> None:
    tag = SimulatedNtag(UID)
    tag.lock_permanently()
    with pytest.raises(TagLocked, match="verrouillée"):
        write_asset_tag(tag, URI, SECRET)


@pytest.mark.parametrize("writes_before_removal", range(0, 15))
def test_tag_removed_mid_write_never_reads_as_another_asset(writes_before_removal: int) -> None:
    tag = SimulatedNtag(UID, writes_before_removal=writes_before_removal)
    with pytest.raises(TagGone):
        write_asset_tag(tag, URI, SECRET)
    tag.put_back()
    state = read_tag(tag)
    assert state.uri in (None, URI)  # empty or complete, never a truncated identifier
    # Put back on the reader, the same command finishes the job.
    tag.writes_before_removal = None
    assert write_asset_tag(tag, URI, SECRET).uri == URI


def test_verify_detects_a_tag_that_differs_from_the_plan() -> None:
    tag = SimulatedNtag(UID)
    write_asset_tag(tag, URI, None)
    with pytest.raises(TagMismatch):
        verify_asset_tag(tag, OTHER, None)
    with pytest.raises(TagMismatch):  # planned with protection, tag has none
        verify_asset_tag(tag, URI, SECRET)
