"""Pydantic validation errors as one readable line per problem, with camelCase paths.

``okta-hris sync -f``, the operator and ``kubectl apply`` must tell a user the same thing in
the same words: ``spec.filters.countries.include[0]: 'Germany' is not ... did you mean DE?``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

_SHOULD_RE = re.compile(r"^(?:Input|String|List|Value|Dictionary|Tuple|Set) should ")
_TYPE_NAMES = {
    "string_type": "a string",
    "bool_type": "true or false",
    "int_type": "a whole number",
    "float_type": "a number",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def printable(text: str) -> str:
    """``text`` with every character a terminal would act on (line breaks, ESC, bidirectional
    overrides, a lone surrogate) written as its escape, ``\\x1b``: a key or value quoted in a
    message keeps the message to one line and shows what was written."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode("ascii")
        for c in text
    )


def describe_value(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, int) and value.bit_length() > 200:
        return "a number of more than 60 digits"  # repr fails past 4,300 digits
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unwrap_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _field_names_at(root: type[BaseModel], path: Sequence[str | int]) -> list[str]:
    """The camelCase field names of the object at ``path`` (for "did you mean")."""
    annotation: Any = root
    for part in path:
        annotation = _unwrap_optional(annotation)
        if isinstance(part, int):
            args = get_args(annotation)
            annotation = args[0] if args else None
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields = annotation.model_fields
            found = next((f for n, f in fields.items() if (f.alias or n) == part), None)
            annotation = found.annotation if found else None
        else:
            return []
    annotation = _unwrap_optional(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [f.alias or n for n, f in annotation.model_fields.items()]
    return []


def _did_you_mean(unknown: str, known: list[str]) -> str:
    def squash(name: str) -> str:
        return name.replace("_", "").replace("-", "").lower()

    # token_secret_ref for tokenSecretRef, or a typo like intervall for interval.
    exact = [k for k in known if squash(k) == squash(unknown)]
    close = exact or difflib.get_close_matches(unknown, known, n=1, cutoff=0.7)
    return f"; did you mean {close[0]}?" if close else ""


def _path(prefix: str, loc: Sequence[str | int]) -> str:
    text = prefix
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(document)"


def describe_validation_error(
    exc: ValidationError, root: type[BaseModel], prefix: str = ""
) -> list[str]:
    """One ``path: problem`` line per error, with camelCase paths and no pydantic URLs,
    printable (see ``printable``)."""
    problems: list[str] = []
    for error in exc.errors(include_url=False):
        loc: tuple[str | int, ...] = tuple(error["loc"])
        kind = error["type"]
        value = error.get("input")
        if kind == "missing":
            message = "is required"
        elif kind == "extra_forbidden":
            unknown = str(loc[-1]) if loc else ""
            message = "unknown field" + _did_you_mean(unknown, _field_names_at(root, loc[:-1]))
        elif kind in ("value_error", "assertion_error"):
            message = str(error.get("ctx", {}).get("error", error["msg"]))
        elif kind == "literal_error":
            expected = error.get("ctx", {}).get("expected", "")
            message = f"must be {expected}, not {describe_value(value)}"
        elif kind in _TYPE_NAMES:
            message = f"must be {_TYPE_NAMES[kind]}, not {describe_value(value)}"
        else:
            message = _SHOULD_RE.sub("must ", error["msg"])
        # A path quotes the manifest's keys, which may hold line breaks or escape sequences.
        problems.append(printable(f"{_path(prefix, loc)}: {message}"))
    return problems
