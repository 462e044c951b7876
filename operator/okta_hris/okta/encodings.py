"""Which compressed answers the Okta clients read.

httpx decodes each chunk of a body whole, layer by layer, before the reader can count it: a
few kB compressed twice (``Content-Encoding: gzip, gzip``) are gigabytes once decoded. Okta
compresses with one gzip or deflate layer at most, which grows a chunk a thousandfold at worst;
anything else is refused before the body is read.
"""

from __future__ import annotations

import httpx

ACCEPT_ENCODING = "gzip, deflate"
_READ_ENCODINGS = frozenset(("gzip", "deflate", "identity"))


def unreadable_encoding(response: httpx.Response) -> str | None:
    """The answer's ``Content-Encoding`` when it is not one layer the clients read, else None."""
    codings = [
        coding.strip().lower()
        for header in response.headers.get_list("content-encoding")
        for coding in header.split(",")
        if coding.strip()
    ]
    layers = [coding for coding in codings if coding != "identity"]
    if len(layers) <= 1 and all(coding in _READ_ENCODINGS for coding in codings):
        return None
    shown = ", ".join(coding[:20] for coding in codings[:4])
    return shown.encode("ascii", "replace").decode("ascii")
