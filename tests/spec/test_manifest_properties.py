"""Property tests: ``load_manifests`` on any text, and on any spec, fails only as one line.

A manifest is user input, and ``okta-hris sync -f`` reads it before anything else: whatever a
file holds, the answer is a ``Manifests`` or an ``HrisError`` whose message is one printable
line (no traceback, no RecursionError, no line break or escape sequence from the file).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from okta_hris.cli.manifests import load_manifests
from okta_hris.errors import HrisError

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

SECRET = (
    "apiVersion: v1\nkind: Secret\nmetadata: {name: okta-api-token, namespace: people-ops}\n"
    "stringData: {token: sandbox-token}\n"
)
HEADER = (
    "apiVersion: hris.dev/v1alpha1\nkind: OktaIntegration\n"
    "metadata: {name: acme, namespace: people-ops}\n"
)
VALID_SPEC: dict[str, Any] = {
    "okta": {"subdomain": "acme", "tokenSecretRef": {"name": "okta-api-token"}},
    "sync": {"scope": "All"},
}

# Pieces of YAML that reach the parser's and the constructor's corners: flow and block
# collections, anchors and aliases (recursive ones too), merge keys, tags, complex keys,
# huge integers, dates that are none, quotes, control characters, documents.
YAML_PIECES = st.sampled_from(
    [
        "[",
        "]",
        "{",
        "}",
        ", ",
        ": ",
        "- ",
        "? ",
        "\n",
        "  ",
        "---\n",
        "...\n",
        "&a ",
        "*a ",
        "&b ",
        "*b ",
        "<<: ",
        "!!int ",
        "!!str ",
        "!!binary ",
        "!!python/object:os.system ",
        "!!set ",
        "'",
        '"',
        "|\n",
        ">-\n",
        "#",
        "key",
        "spec",
        "kind: Secret\n",
        "kind: OktaIntegration\n",
        "apiVersion: v1\n",
        "apiVersion: hris.dev/v1alpha1\n",
        "metadata: {name: acme}\n",
        "data: {token: '//79'}\n",
        "9" * 5000,
        "0x" + "f" * 5000,
        "2024-13-45",
        "1e999",
        ".nan",
        "~",
        "\x1b[31m",
        "\x9b",
        "\u202e",
        "\u2028",
        "\x00",
        "\t",
        "\r",
        "[/x]",
    ]
)
YAML_TEXT = st.lists(YAML_PIECES, max_size=40).map("".join)

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
SPEC_KEYS = st.sampled_from(
    [
        "okta",
        "sync",
        "filters",
        "mapping",
        "safety",
        "invitations",
        "tokenSecretRef",
        "maxDeactivations",
        "interval",
        "\x1b[2Jspec\nkey",
    ]
)
# A nested field of the spec set to any value: e.g. spec.safety.maxDeactivations = [{}].
SPEC_PATHS = st.lists(SPEC_KEYS, min_size=1, max_size=3)


def assert_one_line(text: str) -> None:
    try:
        load_manifests(text, source="file.yaml")
    except HrisError as exc:
        message = str(exc)
        assert message, "an error without a message"
        assert message.isprintable(), repr(message)  # no line break, ESC, bidi override
        assert "Traceback" not in message


@PROPERTY_SETTINGS
@given(YAML_TEXT)
@example("? [a, b]\n: 1\n")
@example("[" * 10_000 + "]" * 10_000)
@example("a: &a [*a]\n")
@example("x: " + "9" * 5000)
def test_any_yaml_ish_text_is_read_or_refused_in_one_line(text: str) -> None:
    assert_one_line(text)


@PROPERTY_SETTINGS
@given(st.text(max_size=200))
def test_any_text_is_read_or_refused_in_one_line(text: str) -> None:
    assert_one_line(text)


@PROPERTY_SETTINGS
@given(SPEC_PATHS, JSON_VALUES)
@example(["safety", "maxDeactivations"], "9" * 5000)
@example(["safety", "maxDeactivations"], 10**30)
@example(["sync", "interval"], "9" * 5000 + "h")
def test_any_spec_value_is_accepted_or_refused_in_one_line(path: list[str], value: Any) -> None:
    spec = json.loads(json.dumps(VALID_SPEC))
    target = spec
    for key in path[:-1]:
        child = target.get(key)
        if not isinstance(child, dict):
            child = target[key] = {}
        target = child
    target[path[-1]] = value
    # JSON is YAML: the spec as kubectl would send it, with the Secret beside it.
    assert_one_line(f"{SECRET}---\n{HEADER}spec: {json.dumps(spec)}\n")


@pytest.mark.parametrize(
    "value",
    ["9" * 5000, 10**30, "99999999999", "1000000001"],
)
def test_max_deactivations_beyond_the_bound_fails_validation(value: object) -> None:
    spec = VALID_SPEC | {"safety": {"maxDeactivations": value}}
    with pytest.raises(HrisError) as raised:
        load_manifests(f"{SECRET}---\n{HEADER}spec: {json.dumps(spec)}\n", source="file.yaml")
    assert "spec.safety.maxDeactivations: must be at most 1,000,000,000" in str(raised.value)


def test_the_bound_itself_is_a_valid_max_deactivations() -> None:
    spec = VALID_SPEC | {"safety": {"maxDeactivations": 1_000_000_000}}
    manifests = load_manifests(f"{SECRET}---\n{HEADER}spec: {json.dumps(spec)}\n")
    assert manifests.integration.spec.safety.limit(10) == 1_000_000_000
