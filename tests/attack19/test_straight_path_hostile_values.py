"""Red-team: hostile values (NUL, a lone surrogate, what COPY's text format escapes, a string
of megabytes, astral characters, an id longer than the column) in each mirror table a first
sync now writes straight in (COPY on PostgreSQL). The straight path (the integration holds no
row of the table) and the upsert path (it holds one) must agree: both store the value as
given, or both fail the apply in one clean line and leave the directory as it was."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from okta_hris.directory import schema
from okta_hris.directory.store import Directory
from okta_hris.domain.changes import DirectoryChanges, OktaGroupRecord, OktaUserRecord
from okta_hris.domain.employees import Team
from okta_hris.errors import DirectoryError

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
VALUES = {
    "nul": "a\x00b",
    "surrogate": "a\ud800b",
    "copy-escapes": "a\tb\\n\nc\r\\N\\.\\",
    "copy-null": "\\N",
    "huge": "x" * 200_000,
    "astral": "\U0001f600\u00e9\u200b",
    "long-id": "i" * 300,
}
PLACES = ["team-name", "team-description", "group-name", "tally", "tally-id", "user-id", "login"]


@pytest.fixture
def directory(database_url: str) -> Iterator[Directory]:
    with Directory.open(database_url) as opened:
        yield opened


def seed(key: str) -> DirectoryChanges:
    """One row of the integration in each table: later writes take the upsert path."""
    return DirectoryChanges(
        integration=key,
        synced_at=T0,
        teams_upsert=(Team(okta_group_id="00gS", name="seed"),),
        okta_groups_upsert=(
            OktaGroupRecord(id="00gS", type="OKTA_GROUP", name="seed", last_updated=T0),
        ),
        okta_users_upsert=(
            OktaUserRecord(id="00uS", status="ACTIVE", last_updated=T0, profile={"login": "s"}),
        ),
        tallies_upsert=(("00uS", True, "seed"),),
    )


def hostile(key: str, place: str, value: str) -> tuple[DirectoryChanges, sa.Table, str, str]:
    """The changes, and the table, key and column where ``value`` should land."""
    if place == "team-name":
        team = Team(okta_group_id="00g1", name=value)
        return (
            DirectoryChanges(integration=key, synced_at=T0, teams_upsert=(team,)),
            (schema.teams),
            "00g1",
            "name",
        )
    if place == "team-description":
        team = Team(okta_group_id="00g1", name="n", description=value)
        return (
            DirectoryChanges(integration=key, synced_at=T0, teams_upsert=(team,)),
            (schema.teams),
            "00g1",
            "description",
        )
    if place == "group-name":
        record = OktaGroupRecord(id="00g1", type="OKTA_GROUP", name=value, last_updated=T0)
        return (
            DirectoryChanges(integration=key, synced_at=T0, okta_groups_upsert=(record,)),
            (schema.okta_groups),
            "00g1",
            "name",
        )
    if place == "tally":
        return (
            DirectoryChanges(
                integration=key, synced_at=T0, tallies_upsert=(("00u1", True, value),)
            ),
            schema.okta_user_tallies,
            "00u1",
            "tally",
        )
    if place == "tally-id":
        return (
            DirectoryChanges(integration=key, synced_at=T0, tallies_upsert=((value, True, "t"),)),
            schema.okta_user_tallies,
            value,
            "okta_id",
        )
    if place == "user-id":
        record = OktaUserRecord(id=value, status="ACTIVE", last_updated=T0, profile={"login": "l"})
        return (
            DirectoryChanges(integration=key, synced_at=T0, okta_users_upsert=(record,)),
            (schema.okta_users),
            value,
            "okta_id",
        )
    record = OktaUserRecord(id="00u1", status="ACTIVE", last_updated=T0, profile={"login": value})
    return (
        DirectoryChanges(integration=key, synced_at=T0, okta_users_upsert=(record,)),
        (schema.okta_users),
        "00u1",
        "profile",
    )


def everything(directory: Directory, key: str) -> list[object]:
    with directory.engine.connect() as connection:
        return [
            sorted(
                map(repr, connection.execute(sa.select(table).where(table.c.integration == key)))
            )
            for table in (
                schema.teams,
                schema.okta_groups,
                schema.okta_users,
                schema.okta_user_tallies,
            )
        ]


def outcome(directory: Directory, key: str, place: str, value: str) -> str:
    changes, table, okta_key, column = hostile(key, place, value)
    before = everything(directory, key)
    try:
        directory.apply(changes)
    except DirectoryError as exc:
        text = str(exc)
        assert "\n" not in text and value[:8] not in text and len(text) < 300, text
        assert everything(directory, key) == before
        return "refused"
    id_column = "okta_group_id" if "okta_group_id" in table.c else "okta_id"
    with directory.engine.connect() as connection:
        stored = connection.execute(
            sa.select(table.c[column]).where(
                table.c.integration == key, table.c[id_column] == okta_key
            )
        ).scalar_one()
    # A profile as the record holds it (domain/profiles.py cleans it on the way in).
    expected = changes.okta_users_upsert[0].profile if column == "profile" else value
    assert stored == expected, f"{place}: {stored!r:.80} != {expected!r:.80}"
    return "stored"


@pytest.mark.parametrize("place", PLACES)
def test_the_straight_path_and_the_upsert_path_agree_on_hostile_values(
    directory: Directory, place: str
) -> None:
    outcomes = {}
    for name, text in VALUES.items():
        straight = outcome(directory, f"acme/straight-{name}", place, text)
        directory.apply(seed(f"acme/upsert-{name}"))
        upserted = outcome(directory, f"acme/upsert-{name}", place, text)
        outcomes[name] = (straight, upserted)
        # A refused value leaves the directory working: the straight path takes a clean row.
        directory.apply(hostile(f"acme/straight-{name}", place, "clean")[0])
    assert {name: pair for name, pair in outcomes.items() if pair[0] != pair[1]} == {}
