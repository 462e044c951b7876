"""Red-team, end to end over HTTP: a first sync (every mirror table straight in: COPY on
PostgreSQL) and a second one (upserts) of an org whose ids sort differently under different
rules and whose names are what COPY's text format escapes (a tab, a newline, a backslash,
``\\N``, COPY's own NULL), into one database shared by two integrations (one synced already,
one new). After each sync the directory holds exactly what Okta does."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import unquote

import pytest
import sqlalchemy as sa

from okta_hris.directory import schema
from okta_hris.directory.store import Directory
from tests.attack16.test_changed_part_hostile_ids import sync
from tests.sync.hostile_org import HostileOrg, okta_group, okta_user, serve

FIRST = "people-ops/first"
LATER = "people-ops/later"
SUFFIXES = ["a", "B", "b", "\u00e9", "e", "E\u0301", "\U0001f600", "1", "10", "Z", "_", "~"]
# Names as the mirror keeps them (it folds whitespace), with what COPY's text format escapes.
NAMES = ["Back\\slash", "\\N", "\\.", "a\\tb", "\\\\N", "\U0001f600 Emoji", "C:\\x00"]


class UnquotingOrg(HostileOrg):
    """The hostile org, reading a group id of the path as Okta would (percent-decoded)."""

    def answer(self, path: str) -> object:
        return super().answer(unquote(path))


@pytest.fixture
def directory(database_url: str) -> Iterator[Directory]:
    with Directory.open(database_url) as opened:
        yield opened


@pytest.fixture
def org() -> Iterator[HostileOrg]:
    with serve(UnquotingOrg()) as served:
        yield served


def stored(directory: Directory, integration: str) -> dict[str, set[tuple[object, ...]]]:
    def rows(*columns: sa.Column[object]) -> set[tuple[object, ...]]:
        table = columns[0].table
        with directory.engine.connect() as connection:
            query = sa.select(*columns).where(table.c.integration == integration)  # type: ignore[attr-defined]
            return {tuple(row) for row in connection.execute(query)}

    return {
        "members": rows(
            schema.okta_group_members.c.okta_group_id, schema.okta_group_members.c.okta_id
        ),
        "teams_of": rows(schema.employee_teams.c.okta_id, schema.employee_teams.c.okta_group_id),
        "groups": rows(schema.okta_groups.c.okta_group_id, schema.okta_groups.c.name),
        "teams": rows(schema.teams.c.okta_group_id, schema.teams.c.name),
        "users": rows(schema.okta_users.c.okta_id),
        "tallies": rows(schema.okta_user_tallies.c.okta_id),
        "employees": rows(schema.employees.c.okta_id),
    }


def truth(org: HostileOrg) -> dict[str, set[tuple[object, ...]]]:
    users = {u["id"] for u in org.users}
    names = {g["id"]: g["profile"]["name"] for g in org.groups}
    members = {(g, u) for g, them in org.members.items() for u in them if u in users}
    used = {g for g, _ in members}
    return {
        "members": members,
        "teams_of": {(u, g) for g, u in members},
        "groups": set(names.items()),
        "teams": {(g, n) for g, n in names.items() if g in used},
        "users": {(u,) for u in users},
        "tallies": {(u,) for u in users},
        "employees": {(u,) for u in users},
    }


def test_a_first_and_a_second_sync_store_the_org_beside_another_integration(
    org: HostileOrg, directory: Directory
) -> None:
    users = [f"00u{s}" for s in SUFFIXES]
    groups = [f"00g{s}" for s in SUFFIXES[: len(NAMES)]]
    org.users = [okta_user(u) for u in users]
    org.groups = [okta_group(g, name) for g, name in zip(groups, NAMES, strict=True)]
    org.members = {g: users[i::2] for i, g in enumerate(groups)}
    assert sync(org, directory, FIRST).mode == "Full"
    assert stored(directory, FIRST) == truth(org)
    first_rows = stored(directory, FIRST)

    # The second sync of FIRST: members moved, a group renamed, one user new.
    with org.lock:
        org.users = [*org.users, okta_user("00uNEW\u00df")]
        org.groups[0] = okta_group(groups[0], "Renamed \\N", moved="2026-02-01T00:00:00.000Z")
        org.members = {g: [*users[(i + 1) :: 3], "00uNEW\u00df"] for i, g in enumerate(groups)}
        org.groups = [
            okta_group(g["id"], g["profile"]["name"], moved="2026-02-01T00:00:00.000Z")
            for g in org.groups
        ]
    # A new integration's first sync into the same database, beside FIRST's rows.
    assert sync(org, directory, LATER).mode == "Full"
    assert stored(directory, LATER) == truth(org)
    assert stored(directory, FIRST) == first_rows
    sync(org, directory, FIRST)
    assert stored(directory, FIRST) == truth(org)
    # And a third, with nothing moved: the same rows.
    sync(org, directory, FIRST)
    assert stored(directory, FIRST) == truth(org)
    assert stored(directory, LATER) == truth(org)
