"""Which OktaIntegrations this deployment owns: a Kubernetes label selector (``--selector``).

Several operator deployments split the integrations between them the way Flux shards its
controllers (``--watch-label-selector`` on ``sharding.fluxcd.io/key``): each is given a label
selector, e.g. ``hris.dev/shard=a``, and the sets must not overlap. The selector goes to the
API server with every list and watch (Kopf's ``settings.watching.label_selectors``), so an
integration outside it never reaches this process: it is never synced, patched or finalized
here, and costs this process nothing. The parsed form also matches labels here, for the
daemon's own check.

The grammar is Kubernetes' (``k8s.io/apimachinery/pkg/labels``): requirements separated by
commas, each ``key``, ``!key``, ``key=value``, ``key==value``, ``key!=value``,
``key in (v1,v2)`` or ``key notin (v1,v2)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from okta_hris.errors import ConfigError

SHARD_LABEL = "hris.dev/shard"
MAX_SELECTOR_LENGTH = 4096  # far beyond any real selector; keeps a hostile value cheap

_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_PREFIX = r"[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?"
_KEY = re.compile(rf"^(?:{_PREFIX}/)?{_NAME}$")
_VALUE = re.compile(rf"^(?:{_NAME})?$")
_SET = re.compile(r"^\s*(\S+)\s+(in|notin)\s*\((.*)\)\s*$")
_EQUALITY = re.compile(r"^\s*([^\s=!]+)\s*(==|=|!=)\s*(\S*)\s*$")


class Operator(Enum):
    EXISTS = "exists"
    NOT_EXISTS = "!"
    EQUALS = "="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.key)
        match self.operator:
            case Operator.EXISTS:
                return value is not None
            case Operator.NOT_EXISTS:
                return value is None
            case Operator.EQUALS | Operator.IN:
                return value is not None and value in self.values
            case Operator.NOT_EQUALS | Operator.NOT_IN:
                # As in Kubernetes: a missing label is "not equal" to any value.
                return value is None or value not in self.values

    def __str__(self) -> str:
        match self.operator:
            case Operator.EXISTS:
                return self.key
            case Operator.NOT_EXISTS:
                return f"!{self.key}"
            case Operator.EQUALS | Operator.NOT_EQUALS:
                return f"{self.key}{self.operator.value}{self.values[0]}"
            case Operator.IN | Operator.NOT_IN:
                return f"{self.key} {self.operator.value} ({','.join(self.values)})"


@dataclass(frozen=True)
class ShardSelector:
    """A parsed label selector; empty: every integration (a deployment without shards)."""

    requirements: tuple[Requirement, ...] = ()

    @classmethod
    def parse(cls, text: str | None, *, source: str = "--selector") -> ShardSelector:
        """Raises ``ConfigError``, one line naming ``source`` and the requirement at fault."""
        raw = (text or "").strip()
        if not raw:
            return cls()
        if len(raw) > MAX_SELECTOR_LENGTH:
            raise ConfigError(f"{source} is longer than {MAX_SELECTOR_LENGTH} characters")
        if not raw.isprintable():
            raise ConfigError(f"{source} must not contain control characters")
        return cls(tuple(_requirement(part, source) for part in _split(raw, source)))

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        return all(r.matches(labels or {}) for r in self.requirements)

    def __bool__(self) -> bool:
        return bool(self.requirements)

    def __str__(self) -> str:
        """The canonical form, as sent to the API server (``labelSelector``)."""
        return ",".join(str(r) for r in self.requirements)


def _split(raw: str, source: str) -> list[str]:
    """Split on the commas outside parentheses."""
    parts: list[str] = []
    depth, start = 0, 0
    for index, char in enumerate(raw):
        if char == "(":
            depth += 1
            if depth > 1:
                raise ConfigError(f"{source}: nested parentheses")
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise ConfigError(f"{source}: unbalanced parentheses")
        elif char == "," and depth == 0:
            parts.append(raw[start:index])
            start = index + 1
    if depth:
        raise ConfigError(f"{source}: unbalanced parentheses")
    parts.append(raw[start:])
    return parts


def _requirement(part: str, source: str) -> Requirement:
    text = part.strip()
    if not text:
        raise ConfigError(f"{source}: an empty requirement (a stray comma?)")
    if found := _SET.match(text):
        key, word, inside = found.groups()
        values = tuple(v.strip() for v in inside.split(","))
        if values == ("",):
            raise ConfigError(f"{source}: {_shown(text)} lists no values")
        operator = Operator.IN if word == "in" else Operator.NOT_IN
        return Requirement(_key(key, source), operator, tuple(_value(v, source) for v in values))
    if found := _EQUALITY.match(text):
        key, sign, value = found.groups()
        operator = Operator.NOT_EQUALS if sign == "!=" else Operator.EQUALS
        return Requirement(_key(key, source), operator, (_value(value, source),))
    if text.startswith("!"):
        return Requirement(_key(text[1:].strip(), source), Operator.NOT_EXISTS)
    if " " not in text:
        return Requirement(_key(text, source), Operator.EXISTS)
    raise ConfigError(
        f"{source}: {_shown(text)} is not a label requirement "
        "(key, !key, key=value, key!=value, key in (a,b), key notin (a,b))"
    )


def _key(key: str, source: str) -> str:
    prefix, _, name = key.rpartition("/")
    if not _KEY.match(key) or len(name) > 63 or len(prefix) > 253:
        raise ConfigError(f"{source}: {_shown(key)} is not a valid label key")
    return key


def _value(value: str, source: str) -> str:
    if len(value) > 63 or not _VALUE.match(value):
        raise ConfigError(f"{source}: {_shown(value)} is not a valid label value")
    return value


def _shown(text: str, limit: int = 80) -> str:
    """A part of the selector as quoted in a message: short, whatever was given."""
    return repr(text if len(text) <= limit else text[:limit] + "...")
