"""Sharding in the chart: one release per shard, each with its own selector and peering object."""

from __future__ import annotations

from typing import Any

import pytest

from okta_hris.controller.sharding import ShardSelector
from tests.chart.rendering import POSTGRES_SECRET, helm_error, render

SHARD_A: dict[str, Any] = {
    **POSTGRES_SECRET,
    "replicaCount": 2,
    "shard": {"selector": "hris.dev/shard=a"},
}


def _selector_args(rendered: Any) -> list[str]:
    return [a for a in rendered.container()["args"] if a.startswith("--selector")]


def test_without_a_selector_the_release_serves_everything_and_says_so() -> None:
    rendered = render()
    assert _selector_args(rendered) == []
    assert "serves every OktaIntegration" in rendered.notes
    assert "!hris.dev/shard" in rendered.notes


@pytest.mark.parametrize(
    "selector", ["hris.dev/shard=a", "!hris.dev/shard", "hris.dev/shard in (a, b),tier!=test"]
)
def test_the_selector_reaches_the_operator_as_one_argument_it_accepts(selector: str) -> None:
    rendered = render({**POSTGRES_SECRET, "shard": {"selector": selector}})
    (argument,) = _selector_args(rendered)
    assert argument == f"--selector={selector}"
    # What the chart passes is what the operator parses (a wrong one stops it at start).
    assert ShardSelector.parse(argument.removeprefix("--selector="))
    assert selector in rendered.notes


def test_each_shard_has_its_own_peering_object_so_shards_never_pause_each_other() -> None:
    a = render(SHARD_A, name="hris-a")
    b = render({**SHARD_A, "shard": {"selector": "hris.dev/shard=b"}}, name="hris-b")
    names = []
    for rendered in (a, b):
        (peering,) = rendered.of_kind("KopfPeering")
        name = peering["metadata"]["name"]
        assert f"--peering={name}" in rendered.container()["args"]
        rules = [r for role in rendered.of_kind("Role") for r in role["rules"]]
        assert any(name in r.get("resourceNames", []) for r in rules)
        names.append(name)
    assert names == ["okta-hris-hris-a", "okta-hris-hris-b"]
    # Unsharded, the peering object keeps its configured name.
    (default,) = render({**POSTGRES_SECRET, "replicaCount": 2}).of_kind("KopfPeering")
    assert default["metadata"]["name"] == "okta-hris"


@pytest.mark.parametrize(
    "values",
    [{"shard": {"selector": 3}}, {"shard": {"selector": "a=b\nc"}}, {"shard": {"other": "x"}}],
)
def test_the_schema_refuses_a_selector_that_is_not_one_line_of_text(values: dict[str, Any]) -> None:
    assert "shard" in helm_error(values)


def test_shards_need_a_shared_postgresql_directory() -> None:
    message = helm_error({"shard": {"selector": "hris.dev/shard=a"}})
    assert "shard.selector needs PostgreSQL" in message and "invite everyone again" in message
