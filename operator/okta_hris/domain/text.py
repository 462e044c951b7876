"""Text from servers (Okta, an SMTP relay) as it may be shown: one printable, bounded line."""

from __future__ import annotations

import re

# C0 and C1 controls (ESC, CSI, BEL, NUL), line and paragraph separators, and lone surrogates,
# which no encoder can write.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]+")


def one_line(text: str, limit: int | None = None) -> str:
    """``text`` with its control characters and runs of white space as single spaces, cut to
    ``limit`` characters (the last one an ellipsis) when it is longer."""
    text = " ".join(CONTROL_CHARACTERS.sub(" ", text).split())
    if limit is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"
