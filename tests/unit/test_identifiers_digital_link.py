"""GS1 Digital Link: construction, formatting, parsing, fuzzing."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reemploi.domain.checkdigit import gs1_check_digit
from reemploi.domain.digital_link import (
    CANONICAL_DOMAIN,
    GS1_CHARSET_82,
    DigitalLink,
    InvalidIdentifier,
    format_digital_link,
    giai_uri,
    gln_uri,
    grai_uri,
    parse_digital_link,
    pgln_uri,
    plain_giai_canonical,
    sscc_uri,
)
from reemploi.domain.errors import InvalidIdentifier as InvalidIdentifierFromErrors

SET_82 = "".join(sorted(GS1_CHARSET_82))


def _digits(size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=size, max_size=size)


def _with_check(size: int) -> st.SearchStrategy[str]:
    return _digits(size - 1).map(lambda data: data + gs1_check_digit(data))


def _set82(max_size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=SET_82, min_size=1, max_size=max_size)


giais = st.builds(
    lambda prefix, rest: (prefix + rest)[:30],
    st.text(alphabet="0123456789", min_size=4, max_size=12),
    st.text(alphabet=SET_82, max_size=26),
)
# (primary AI, value, qualifiers) for every supported key.
keys = st.one_of(
    st.tuples(st.just("8004"), giais, st.just(())),
    st.tuples(st.just("00"), _with_check(18), st.just(())),
    st.tuples(
        st.just("414"),
        _with_check(13),
        st.one_of(st.just(()), _set82(20).map(lambda ext: (("254", ext),))),
    ),
    st.tuples(st.just("417"), _with_check(13), st.just(())),
    st.tuples(
        st.just("8003"),
        st.builds(
            lambda base, serial: "0" + base + serial,
            _with_check(13),
            st.one_of(st.just(""), _set82(16)),
        ),
        st.just(()),
    ),
    st.tuples(
        st.just("01"),
        _with_check(14),
        st.one_of(st.just(()), _set82(20).map(lambda serial: (("21", serial),))),
    ),
)
host_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
domains = st.builds(
    lambda scheme, labels, prefix: (
        f"{scheme}://{'.'.join(labels)}" + "".join(f"/{segment}" for segment in prefix)
    ),
    st.sampled_from(["https", "http"]),
    st.lists(host_label, min_size=1, max_size=4),
    st.lists(
        st.one_of(
            st.sampled_from(["8004", "01", "414", "254", "21", "00"]),
            st.text(alphabet="abcXYZ019-._~", min_size=1, max_size=8),
        ),
        max_size=3,
    ),
)


def test_invalid_identifier_is_one_class_and_a_value_error() -> None:
    assert InvalidIdentifier is InvalidIdentifierFromErrors
    assert issubclass(InvalidIdentifier, ValueError)


def test_convenience_constructors_build_canonical_links() -> None:
    assert giai_uri("4012345ABC345") == "https://id.gs1.org/8004/4012345ABC345"
    assert sscc_uri("340123451111111111") == "https://id.gs1.org/00/340123451111111111"
    assert gln_uri("4012345000054") == "https://id.gs1.org/414/4012345000054"
    assert pgln_uri("4012345000054") == "https://id.gs1.org/417/4012345000054"
    assert grai_uri("04012345000221334455") == "https://id.gs1.org/8003/04012345000221334455"
    assert (
        giai_uri("4012345ABC345", domain="https://id.example.org/")
        == "https://id.example.org/8004/4012345ABC345"
    )


def test_gln_extension_is_qualifier_254() -> None:
    assert gln_uri("4012345000054", "B2") == "https://id.gs1.org/414/4012345000054/254/B2"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: giai_uri("4012345 ABC"), "not in GS1 character set 82"),
        (lambda: sscc_uri("340123451111111112"), "expected 1"),
        (lambda: gln_uri("4012345000054", ""), "empty"),
        (lambda: gln_uri("4012345000054", "é"), "set 82"),
        (lambda: pgln_uri("401234500005"), "exactly 13 digits"),
        (lambda: grai_uri("4012345000221"), "must start with '0'"),
        (lambda: giai_uri("4012345ABC345", domain="ftp://id.example.org"), "https://"),
        (lambda: giai_uri("4012345ABC345", domain="https://id.example.org?x"), "invalid host"),
        (lambda: format_digital_link("253", "4012345000054"), "not a supported primary key"),
        (lambda: format_digital_link("414", "4012345000054", (("21", "x"),)), "254"),
        (
            lambda: format_digital_link("01", "10614141073464", (("21", "a"), ("21", "b"))),
            "not an allowed key qualifier",
        ),
    ],
)
def test_constructors_validate(build: object, message: str) -> None:
    assert callable(build)
    with pytest.raises(InvalidIdentifier, match=message):
        build()


def test_digital_link_is_frozen_and_normalised() -> None:
    link = DigitalLink("01", "4006381333931", (("21", "A/1"),), "HTTPS://ID.Example.ORG/")
    assert link.primary_value == "04006381333931"
    assert link.domain == "https://id.example.org"
    assert str(link) == link.uri == "https://id.example.org/01/04006381333931/21/A%2F1"
    assert link.qualifier("21") == "A/1"
    assert link.qualifier("10") is None
    assert link.canonical().domain == CANONICAL_DOMAIN
    with pytest.raises(dataclasses.FrozenInstanceError):
        link.primary_ai = "8004"  # type: ignore[misc]
    assert link == parse_digital_link(link.uri)
    assert hash(link) == hash(parse_digital_link(link.uri))


def test_percent_encoding_is_uppercase_hex_and_decoding_accepts_lowercase() -> None:
    uri = giai_uri("0614141a/b?c")
    assert uri == "https://id.gs1.org/8004/0614141a%2Fb%3Fc"
    assert parse_digital_link("https://id.gs1.org/8004/0614141a%2fb%3fc").uri == uri


@given(keys, domains)
def test_format_then_parse_gives_back_the_same_identifier(
    key: tuple[str, str, tuple[tuple[str, str], ...]], domain: str
) -> None:
    ai, value, qualifiers = key
    uri = format_digital_link(ai, value, qualifiers, domain)
    link = parse_digital_link(uri)
    assert (link.primary_ai, link.primary_value, link.qualifiers) == (ai, value, qualifiers)
    assert link.domain == domain
    assert link.uri == uri
    assert link.canonical().uri == format_digital_link(ai, value, qualifiers)


uri_like = st.builds(
    lambda head, segments, tail: head + "/".join(segments) + tail,
    st.sampled_from(["https://id.gs1.org/", "http://x/", "HTTPS://a.b/p/", "https://", ""]),
    st.lists(
        st.one_of(
            st.sampled_from(["8004", "00", "414", "254", "417", "8003", "01", "21", "10", ""]),
            st.text(alphabet=SET_82 + "%~#?@/é\x00 ", max_size=35),
            _with_check(13),
            _with_check(18),
        ),
        max_size=6,
    ),
    st.sampled_from(["", "/", "?a=1", "#x"]),
)


@given(st.one_of(st.text(), uri_like))
def test_parse_raises_only_invalid_identifier_on_arbitrary_text(text: str) -> None:
    try:
        link = parse_digital_link(text)
    except InvalidIdentifier:
        return
    # Whatever parses must round-trip through its own URI.
    assert parse_digital_link(link.uri) == link


@given(
    st.one_of(
        st.from_regex(
            r"https?://[a-zA-Z0-9.-]{1,20}(:[0-9]{1,5})?/8004/[0-9]{4}[0-9A-Za-z._-]{0,26}",
            fullmatch=True,
        ),
        uri_like,
        st.builds(
            lambda head, value: (
                head + "".join(f"%{ord(c):02X}" if c in "/?#%" else c for c in value)
            ),
            st.sampled_from(
                ["https://id.gs1.org/8004/", "http://a.b/8004/0614", "https://x/8004/"]
            ),
            st.text(alphabet=SET_82, max_size=35),
        ),
    )
)
def test_plain_giai_shortcut_agrees_with_parsing(text: str) -> None:
    # Ingest and the event hash take the shortcut for these links: it must give what
    # parse + canonical gives, and nothing for text the parser refuses.
    plain = plain_giai_canonical(text)
    try:
        link = parse_digital_link(text)
    except InvalidIdentifier:
        assert plain is None
        return
    if plain is not None:
        assert link.primary_ai == "8004"
        assert plain == link.canonical().uri


def test_plain_giai_shortcut_on_examples() -> None:
    assert (
        plain_giai_canonical("https://id.reemploi.example:8443/8004/0614141ABC-1.x_2")
        == "https://id.gs1.org/8004/0614141ABC-1.x_2"
    )
    for text in (
        "https://id.gs1.org/8004/0614141a%2Fb",  # percent-encoded: parsed the long way
        "https://id.gs1.org/8004/061",  # too short for a company prefix
        "https://id.gs1.org/8004/A614141",  # no company prefix
        "https://id.gs1.org/8004/" + "1" * 31,  # over 30 characters
        "https://example.org/resolver/8004/0614141",  # path prefix: the long way
        "https://-bad-.org/8004/0614141",  # invalid host
        "https://id.gs1.org/8004/0614141?x=1",
        "HTTPS://id.gs1.org/8004/0614141",
        "https://id.gs1.org/8004/0614141\n",
    ):
        assert plain_giai_canonical(text) is None, text
