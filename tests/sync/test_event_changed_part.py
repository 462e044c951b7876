"""An Event sync reads only its part of the directory (issue 12: targeted reads, never a
full load): the users the events named, the members a re-listed group gained or lost, and the
rows of teams that may go unused; everyone else is counted from the stored tallies. The
sandbox over HTTP, the events its System Log wrote, the directory on SQLite and PostgreSQL.

Two integrations of one org take the same random changes, each followed by an Event sync of
the events they wrote: one plans from its part, the other (tallies marked stale) from the
whole state, as Event syncs did before. Reports and directories must be the same.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable, Iterator

import pytest

from okta_hris.directory.store import Directory
from okta_hris.domain.events import EventBatch
from okta_hris.sandbox import Sandbox
from tests.sync.test_event_sync import Org
from tests.sync.test_incremental_changed_part import (
    PART,
    SPECS,
    WHOLE,
    assert_alike,
    change_org,
    stale_tallies,
    sync,
)

READ = re.compile(r"^Event sync of .*, (\d+) users read from the directory$")


@pytest.fixture
def directory(database_url: str) -> Iterator[Directory]:
    with Directory.open(database_url) as opened:
        yield opened


def reads(caplog: pytest.LogCaptureFixture) -> list[int]:
    return [int(m.group(1)) for r in caplog.records if (m := READ.match(r.getMessage()))]


@pytest.mark.parametrize("which", sorted(SPECS))
def test_an_event_syncs_part_plans_what_the_whole_state_plans(
    sandbox_factory: Callable[..., Sandbox],
    directory: Directory,
    which: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spec_ = SPECS[which]
    sandbox = sandbox_factory(users=300, groups=24, seed=11)
    for integration in (PART, WHOLE):
        assert sync(sandbox, directory, integration, spec_).mode == "Full"
    org = Org(sandbox)
    rng = random.Random(which)
    try:
        for step in range(3):
            change_org(org.http, rng, step)
            batch = org.batch()
            assert batch.user_ids and batch.group_ids
            caplog.clear()
            with caplog.at_level(logging.DEBUG, logger="okta_hris.sync.engine"):
                part = sync(sandbox, directory, PART, spec_, batch)
            read = reads(caplog)
            stale_tallies(directory, WHOLE)
            whole = sync(sandbox, directory, WHOLE, spec_, batch)
            assert part.mode == whole.mode == "Event"
            # The users the events named and the holders of a team going unused, of 300.
            assert len(read) == 1 and 0 < read[0] < 150, read
            assert part.stats.api_requests == whole.stats.api_requests  # the same reads of Okta
            assert_alike(directory, part, whole)
    finally:
        org.http.close()


def test_members_a_moved_group_gained_without_an_event_are_read_too(
    sandbox: Sandbox, directory: Directory
) -> None:
    """Okta's membership events for one group never arrived, but another group's did: the
    team groups are listed, the moved one is listed again, and the member it gained and the
    one it lost (named by no event) are read from the directory and planned, as from the
    whole state."""
    spec_ = SPECS["all"]
    for integration in (PART, WHOLE):
        sync(sandbox, directory, integration, spec_)
    org = Org(sandbox)
    try:
        groups = sorted(org.team_groups())
        quiet, named = groups[0], groups[1]
        members = [u["id"] for u in org.write("GET", f"/api/v1/groups/{quiet}/users")]
        outsiders = [
            r.okta_id
            for r in directory.list_employees(integration=PART)
            if r.okta_id not in members
        ]
        org.write("PUT", f"/api/v1/groups/{quiet}/users/{outsiders[0]}")
        org.write("DELETE", f"/api/v1/groups/{quiet}/users/{members[0]}")
        dropped = {e.uuid for e in org.new_events()}  # never delivered
        org.write("PUT", f"/api/v1/groups/{named}/users/{outsiders[1]}")
        events = [e for e in org.new_events() if e.uuid not in dropped]
    finally:
        org.http.close()
    batch = EventBatch.of(events)
    assert outsiders[0] not in batch.user_ids and members[0] not in batch.user_ids
    part = sync(sandbox, directory, PART, spec_, batch)
    stale_tallies(directory, WHOLE)
    whole = sync(sandbox, directory, WHOLE, spec_, batch)
    assert part.mode == whole.mode == "Event"
    assert_alike(directory, part, whole)
    name = {r.okta_id: r for r in directory.list_employees(integration=PART)}
    quiet_name = next(t.name for t in directory.teams(PART) if t.okta_group_id == quiet)
    assert quiet_name in name[outsiders[0]].teams
    assert quiet_name not in name[members[0]].teams


def test_an_event_naming_one_user_reads_that_user_alone(
    sandbox: Sandbox, directory: Directory, caplog: pytest.LogCaptureFixture
) -> None:
    """A profile edit names one user and no group: one row read, none of the org's groups
    listed, and the edit lands."""
    spec_ = SPECS["all"]
    sync(sandbox, directory, PART, spec_)
    org = Org(sandbox)
    try:
        [row] = [r for r in directory.list_employees(integration=PART) if r.active][:1]
        org.write("POST", f"/api/v1/users/{row.okta_id}", json={"profile": {"city": "Gdańsk"}})
        batch = org.batch()
    finally:
        org.http.close()
    assert batch.user_ids == {row.okta_id} and not batch.group_ids
    with caplog.at_level(logging.DEBUG, logger="okta_hris.sync.engine"):
        report = sync(sandbox, directory, PART, spec_, batch)
    assert report.mode == "Event" and report.stats.updated == 1
    assert reads(caplog) == [1]
    assert report.stats.api_requests == 1
    [after] = [r for r in directory.list_employees(integration=PART) if r.okta_id == row.okta_id]
    assert after.city == "Gdańsk"


def test_an_event_sync_of_a_directory_without_tallies_reads_it_whole(
    sandbox: Sandbox, directory: Directory, caplog: pytest.LogCaptureFixture
) -> None:
    """Tallies the last apply did not count whole (the release before them): the Event sync
    plans from the whole state, and writes them for the next one."""
    spec_ = SPECS["all"]
    sync(sandbox, directory, PART, spec_)
    stale_tallies(directory, PART)
    org = Org(sandbox)
    try:
        [row] = [r for r in directory.list_employees(integration=PART) if r.active][:1]
        for city in ("Kraków", "Łódź"):
            org.write("POST", f"/api/v1/users/{row.okta_id}", json={"profile": {"city": city}})
            caplog.clear()
            with caplog.at_level(logging.DEBUG, logger="okta_hris.sync.engine"):
                assert sync(sandbox, directory, PART, spec_, org.batch()).mode == "Event"
            assert reads(caplog) == ([] if city == "Kraków" else [1])
    finally:
        org.http.close()
