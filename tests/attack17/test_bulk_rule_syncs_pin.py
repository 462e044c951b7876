"""Pin: a group with more System Log events than the cap but fewer than its members is now
folded from the log (membership_log.explains); the changed part (sizes from the mirror) and
the whole state must both agree with a Full sync of the same org. The cap is lowered to 2 so
that a few real sandbox changes cross it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from okta_hris.directory import schema
from okta_hris.directory.store import Directory
from okta_hris.sandbox import Sandbox
from okta_hris.sync import engine
from okta_hris.sync.membership_log import MembershipLog
from tests.attack16.test_changed_part_attacks import directory, okta_client  # noqa: F401
from tests.sync.test_incremental_changed_part import (
    PART,
    SPECS,
    WHOLE,
    rows,
    stale_tallies,
    sync,
)

FULL = "people-ops/full"


@dataclass
class _SmallCap(MembershipLog):
    max_events_per_group: int = 2


def _members(okta: Any, group_id: str) -> set[str]:
    return {
        u["id"] for u in okta.get(f"/api/v1/groups/{group_id}/users", params={"limit": 200}).json()
    }


@pytest.mark.parametrize("bulk", [False, True], ids=["folded", "relisted"])
def test_many_events_on_one_group_sync_as_a_full_sync_would(
    sandbox_factory: Callable[..., Sandbox],
    directory: Directory,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    bulk: bool,
) -> None:
    monkeypatch.setattr(engine, "MembershipLog", _SmallCap)
    relists: list[tuple[str, ...]] = []
    real_settle = engine.settle_members

    def settle(*args: Any, **kwargs: Any) -> Any:
        settled = real_settle(*args, **kwargs)
        relists.append(settled.relist)
        return settled

    monkeypatch.setattr(engine, "settle_members", settle)
    spec_ = SPECS["all"]
    sandbox = sandbox_factory(users=60, groups=4, seed=31)
    for integration in (PART, WHOLE):
        assert sync(sandbox, directory, integration, spec_).mode == "Full"
    with okta_client(sandbox) as okta:
        groups = okta.get("/api/v1/groups").json()
        sizes = {g["id"]: len(_members(okta, g["id"])) for g in groups if g["type"] == "OKTA_GROUP"}
        target = max((g for g in sizes if sizes[g] <= 50), key=lambda g: sizes[g])
        members = sorted(_members(okta, target))
        users = [u["id"] for u in okta.get("/api/v1/users", params={"limit": 200}).json()]
        outsiders = [u for u in users if u not in members]
        assert len(members) >= 6 and len(outsiders) >= 6
        if bulk:  # more events than members: remove every member, add them back, and more
            for user_id in members:
                okta.delete(f"/api/v1/groups/{target}/users/{user_id}").raise_for_status()
            for user_id in members[:-1] + outsiders[:2]:
                okta.put(f"/api/v1/groups/{target}/users/{user_id}").raise_for_status()
        else:  # more than the cap (2), fewer than the members
            for user_id in members[:2]:
                okta.delete(f"/api/v1/groups/{target}/users/{user_id}").raise_for_status()
            for user_id in outsiders[:2]:
                okta.put(f"/api/v1/groups/{target}/users/{user_id}").raise_for_status()
            okta.delete(f"/api/v1/groups/{target}/users/{outsiders[0]}").raise_for_status()
    part = sync(sandbox, directory, PART, spec_)
    stale_tallies(directory, WHOLE)
    whole = sync(sandbox, directory, WHOLE, spec_)
    assert part.mode == whole.mode == "Incremental"
    assert len(relists) == 2 and all((target in r) == bulk for r in relists), relists
    assert sync(sandbox, directory, FULL, spec_).mode == "Full"
    for table in (schema.okta_group_members, schema.employee_teams, schema.teams):
        expected = rows(directory, table, FULL)
        assert rows(directory, table, PART) == expected, table.name
        assert rows(directory, table, WHOLE) == expected, table.name
