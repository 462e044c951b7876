"""Okta's ``Link`` headers: the only way to page, and a place where a hostile URL could enter."""

from __future__ import annotations

import re
from collections.abc import Iterable

import httpx

# One link-value of RFC 8288: ``<URI>`` followed by ``; param`` parts. A header line may hold
# several link-values separated by commas, and Okta sends ``self`` and ``next`` as two separate
# header lines, so every line is scanned.
_LINK_VALUE = re.compile(r"<(?P<target>[^>]*)>(?P<params>(?:\s*;\s*[^;,]*)*)")
_REL_PARAM = re.compile(r"""(?:^|;)\s*rel\s*=\s*(?:"(?P<quoted>[^"]*)"|(?P<token>[^\s;,"]+))""")


def parse_link_headers(lines: Iterable[str]) -> list[tuple[str, frozenset[str]]]:
    """Every ``(target, rels)`` in the given ``Link`` header lines, in order."""
    links: list[tuple[str, frozenset[str]]] = []
    for line in lines:
        for match in _LINK_VALUE.finditer(line):
            rel = _REL_PARAM.search(match.group("params"))
            rels: frozenset[str] = frozenset()
            if rel is not None:
                value = (
                    rel.group("quoted") if rel.group("quoted") is not None else rel.group("token")
                )
                rels = frozenset(value.lower().split())
            links.append((match.group("target").strip(), rels))
    return links


def next_link(response: httpx.Response) -> str | None:
    """The ``rel="next"`` target of a response, resolved against the request URL, or None.

    Raises ValueError when the response names more than one different next page (following
    either could skip a page), or one that is not a URL.
    """
    targets: set[str] = set()
    try:
        for target, rels in parse_link_headers(response.headers.get_list("link")):
            if "next" in rels:
                url = response.request.url.join(target)
                url.host  # noqa: B018 - decodes an IDNA host: an invalid one raises here
                targets.add(str(url))
    except (httpx.InvalidURL, UnicodeError):
        raise ValueError("a rel=next link that is not a valid URL") from None
    if len(targets) > 1:
        raise ValueError(f"{len(targets)} different rel=next links")
    return targets.pop() if targets else None


def origin(url: httpx.URL) -> tuple[str, str, int | None]:
    """Scheme, host and effective port; two URLs with the same origin may share credentials."""
    default_ports = {"http": 80, "https": 443}
    return url.scheme, url.host.lower(), url.port or default_ports.get(url.scheme)


def same_origin(url: httpx.URL, base: httpx.URL) -> bool:
    return origin(url) == origin(base)
