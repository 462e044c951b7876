"""The shard selector: Kubernetes' label selector grammar, validated in one line, and matching."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from okta_hris.controller.options import ControllerConfig
from okta_hris.controller.sharding import ShardSelector
from okta_hris.errors import ConfigError

LABELS = {"hris.dev/shard": "a", "tier": "prod"}


@pytest.mark.parametrize(
    ("text", "canonical", "matches"),
    [
        ("hris.dev/shard=a", "hris.dev/shard=a", True),
        ("hris.dev/shard == a", "hris.dev/shard=a", True),
        ("hris.dev/shard!=a", "hris.dev/shard!=a", False),
        ("hris.dev/shard in (b, a)", "hris.dev/shard in (b,a)", True),
        ("hris.dev/shard notin (a)", "hris.dev/shard notin (a)", False),
        ("hris.dev/shard", "hris.dev/shard", True),
        ("!hris.dev/shard", "!hris.dev/shard", False),
        ("hris.dev/shard=a, tier in (prod,test)", "hris.dev/shard=a,tier in (prod,test)", True),
        ("region!=eu", "region!=eu", True),  # a missing label is "not equal", as in Kubernetes
        ("region notin (eu)", "region notin (eu)", True),
        ("region in (eu)", "region in (eu)", False),
        ("tier=", "tier=", False),  # the empty value is a value
    ],
)
def test_it_parses_and_matches_as_kubernetes_does(text: str, canonical: str, matches: bool) -> None:
    selector = ShardSelector.parse(text)
    assert str(selector) == canonical
    assert selector.matches(LABELS) is matches
    assert ShardSelector.parse(canonical) == selector  # the canonical form reads back the same


def test_an_empty_selector_is_every_integration() -> None:
    for text in (None, "", "  "):
        selector = ShardSelector.parse(text)
        assert (
            not selector and str(selector) == "" and selector.matches({}) and selector.matches(None)
        )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("hris.dev/shard=a,", "an empty requirement"),
        ("hris.dev/shard in ()", "lists no values"),
        ("hris.dev/shard in (a", "unbalanced parentheses"),
        ("hris.dev/shard in ((a))", "nested parentheses"),
        ("shard=a b", "is not a label requirement"),
        ("-shard=a", "'-shard' is not a valid label key"),
        ("Hris.Dev/shard=a", "not a valid label key"),
        ("shard=" + "x" * 64, "is not a valid label value"),
        ("shard=a\nb", "control characters"),
        ("shard=" + "a," * 3000, "longer than 4096"),
    ],
)
def test_a_bad_selector_is_one_line_naming_the_setting(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ControllerConfig.from_env({"HRIS_SHARD_SELECTOR": text})
    message = str(caught.value)
    assert message.startswith("HRIS_SHARD_SELECTOR (--selector)") and problem in message
    assert "\n" not in message and len(message) < 300


def test_okta_hris_run_refuses_a_bad_selector_before_starting() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HRIS_", "KUBECONFIG"))}
    command = [str(Path(sys.executable).with_name("okta-hris")), "run", "-n", "people-ops"]
    done = subprocess.run(
        [*command, "--selector", "hris.dev/shard in (a"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "unbalanced parentheses" in done.stderr
