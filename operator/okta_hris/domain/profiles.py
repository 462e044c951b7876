"""An Okta profile as the mirror keeps it: storable JSON, held as compact canonical bytes.

What no database's JSON column takes is changed, the same on SQLite and PostgreSQL: NaN and
infinities (PostgreSQL's JSON refuses them) and integers too long to write become null, NUL and
lone surrogates are removed (as mapping removes them: a user maps from the mirror as from
Okta's answer), and objects nested deeper than ``MAX_DEPTH`` become null.

A sync holds one profile per Okta user (100,000 and more) from the listing to the directory
write, and a decoded profile of 17 attributes costs 2 kB (a dict and a string object per
value); the same profile as JSON bytes costs a third of that. The bytes are canonical (keys
sorted at every level), so two records hold equal bytes exactly when their profiles are the
same JSON, whichever order Okta sent them in or an earlier release stored them in (the
standard library's ``json.dumps``, in Okta's order). Exact JSON: ``1``, ``1.0`` and ``true``
differ, as ``-0.0`` and ``0.0`` do.

Integers are kept up to ``MAX_INTEGER_DIGITS`` characters, the sign included (as the Okta
client reads them, and as msgspec's decoder takes them back); longer ones become null.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import msgspec

MAX_DEPTH = 32  # levels of nested objects and lists the mirror keeps of a profile value
# Python's default limit for reading an integer (sys.int_info.default_max_str_digits).
MAX_INTEGER_DIGITS = 4300

_NOT_JSON_TEXT = re.compile("[\x00\ud800-\udfff]")
_ENCODER = msgspec.json.Encoder(order="sorted")
_DECODER = msgspec.json.Decoder(dict[str, Any])


def storable_json(value: Any, depth: int = 0) -> Any:
    """``value`` as every database's JSON column stores it (module docstring); the very same
    object when nothing needs changing."""
    if isinstance(value, str):
        return _json_text(value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if _writable(value) else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth >= MAX_DEPTH or not isinstance(value, list | dict):
        return None
    if isinstance(value, list):
        items = [storable_json(item, depth + 1) for item in value]
        same = all(new is old for new, old in zip(items, value, strict=True))
        return value if same else items
    cleaned = {_json_text(str(k)): storable_json(v, depth + 1) for k, v in value.items()}
    same = len(cleaned) == len(value) and all(
        key in value and cleaned[key] is value[key] for key in cleaned
    )
    return value if same else cleaned


def encode_profile(profile: Any) -> bytes:
    """The canonical bytes of ``storable_json(profile)``; a profile that is no object is {}."""
    if isinstance(profile, Mapping) and not isinstance(profile, dict):
        profile = dict(profile)  # a read-only view, a ChainMap: its items, as a dict's
    storable = storable_json(profile)
    return _ENCODER.encode(storable if isinstance(storable, dict) else {})


def decode_profile(data: bytes) -> dict[str, Any]:
    """The profile ``encode_profile`` made: a new dict at each call."""
    return _DECODER.decode(data)


def _json_text(text: str) -> str:
    if _NOT_JSON_TEXT.search(text) is None:  # the common case: nothing to do
        return text
    return _NOT_JSON_TEXT.sub("", text)


def _writable(number: int) -> bool:
    try:
        return len(str(number)) <= MAX_INTEGER_DIGITS
    except ValueError:  # more digits than sys.get_int_max_str_digits()
        return False
