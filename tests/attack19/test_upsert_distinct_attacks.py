"""Red-team of ``upsert_distinct``: a table holding none of the integration's rows takes the
plan's rows straight in (COPY on PostgreSQL, plain INSERT on SQLite), one holding some takes
an upsert. Duplicate keys from a hand-built ``DirectoryChanges``, rows deleted and given again
in one apply, two integrations in one database, and hostile values on the straight path."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from okta_hris.directory import database, schema
from okta_hris.directory.store import Directory
from okta_hris.domain.changes import DirectoryChanges, OktaGroupRecord, OktaUserRecord, Pairs
from okta_hris.domain.employees import Team
from okta_hris.errors import DirectoryError

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
T1 = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
KEY = "acme/attack19"
OTHER = "acme/attack19-other"
MIRROR_TABLES = (
    schema.integrations,
    schema.teams,
    schema.okta_users,
    schema.okta_groups,
    schema.okta_group_members,
    schema.okta_user_tallies,
    schema.employee_teams,
)


@pytest.fixture
def directory(database_url: str) -> Iterator[Directory]:
    with Directory.open(database_url) as opened:
        yield opened


def user(uid: str, login: str = "secret", when: datetime = T0) -> OktaUserRecord:
    return OktaUserRecord(id=uid, status="ACTIVE", last_updated=when, profile={"login": login})


def group(gid: str, name: str, when: datetime = T0) -> OktaGroupRecord:
    return OktaGroupRecord(id=gid, type="OKTA_GROUP", name=name, last_updated=when)


def dump(
    directory: Directory, integration: str | None = None
) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the tables the apply writes (of one integration, or all), sorted."""
    out: dict[str, list[tuple[object, ...]]] = {}
    with directory.engine.connect() as connection:
        for table in MIRROR_TABLES:
            query = sa.select(*[c for c in table.c if c.name != "sync_version"])
            if integration is not None:
                query = query.where(table.c.integration == integration)
            out[table.name] = sorted(
                (tuple(map(repr, row)) for row in connection.execute(query)), key=repr
            )
    return out


def first_sync(integration: str = KEY) -> DirectoryChanges:
    return DirectoryChanges(
        integration=integration,
        synced_at=T0,
        okta_users_upsert=(user("00u1"), user("00u2")),
        okta_groups_upsert=(group("00g1", "Eng"), group("00g2", "Sales")),
        okta_members_add=Pairs({"00g1": ["00u1", "00u2"], "00g2": ["00u2"]}),
        teams_upsert=(Team(okta_group_id="00g1", name="Eng"),),
        tallies_upsert=(("00u1", True, "t1"), ("00u2", False, "t2")),
    )


def duplicated(field: str) -> dict[str, tuple[object, ...]]:
    """The first sync's ``field`` with its first key given twice (a second value)."""
    changes = first_sync()
    values = getattr(changes, field)
    if field == "okta_users_upsert":
        extra = user("00u1", login="secret-again")
    elif field == "okta_groups_upsert":
        extra = group("00g1", "Eng again")
    elif field == "teams_upsert":
        extra = Team(okta_group_id="00g1", name="Eng again")
    else:
        extra = ("00u1", False, "t-again")
    return {field: (*values, extra)}


DUPLICABLE = ["okta_users_upsert", "okta_groups_upsert", "teams_upsert", "tallies_upsert"]


@pytest.mark.parametrize("field", DUPLICABLE)
def test_a_key_given_twice_on_a_first_sync_fails_cleanly_and_writes_nothing(
    directory: Directory, field: str
) -> None:
    before = dump(directory)
    with pytest.raises(DirectoryError) as caught:
        directory.apply(dataclasses.replace(first_sync(), **duplicated(field)))
    text = str(caught.value)
    assert "\n" not in text and "secret" not in text and "00u1" not in text and "00g1" not in text
    assert dump(directory) == before
    # And the directory still takes the corrected changes.
    directory.apply(first_sync())
    assert len(dump(directory, KEY)["okta_users"]) == 2


@pytest.mark.parametrize("field", DUPLICABLE)
def test_a_key_given_twice_once_rows_exist_is_upserted_last_wins(
    directory: Directory, field: str
) -> None:
    directory.apply(first_sync())
    directory.apply(dataclasses.replace(first_sync(), okta_members_add=(), **duplicated(field)))
    rows = dump(directory, KEY)
    table = {
        "okta_users_upsert": "okta_users",
        "okta_groups_upsert": "okta_groups",
        "teams_upsert": "teams",
        "tallies_upsert": "okta_user_tallies",
    }[field]
    # The first sync's rows, no more (a key given twice is one row), the last value winning.
    assert len(rows[table]) == {"teams": 1}.get(table, 2)
    assert any("again" in value for row in rows[table] for value in row)


def test_a_second_sync_updates_every_mirror_table_on_both_backends(directory: Directory) -> None:
    directory.apply(first_sync())
    second = DirectoryChanges(
        integration=KEY,
        synced_at=T1,
        okta_users_upsert=(user("00u1", login="new", when=T1), user("00u3")),
        okta_groups_upsert=(group("00g1", "Engineering", when=T1),),
        okta_members_add=Pairs({"00g1": ["00u3"]}),
        okta_members_remove=Pairs({"00g2": ["00u2"]}),
        teams_upsert=(Team(okta_group_id="00g1", name="Engineering", description="d"),),
        tallies_upsert=(("00u1", False, "t1b"), ("00u3", True, "t3")),
    )
    directory.apply(second)
    with directory.engine.connect() as connection:
        users = dict(
            connection.execute(
                sa.select(schema.okta_users.c.okta_id, schema.okta_users.c.last_updated).where(
                    schema.okta_users.c.integration == KEY
                )
            ).all()
        )
        names = dict(
            connection.execute(
                sa.select(schema.okta_groups.c.okta_group_id, schema.okta_groups.c.name)
            ).all()
        )
        team = connection.execute(sa.select(schema.teams.c.name, schema.teams.c.description)).one()
        tallies = set(
            connection.execute(
                sa.select(
                    schema.okta_user_tallies.c.okta_id,
                    schema.okta_user_tallies.c.in_scope,
                    schema.okta_user_tallies.c.tally,
                )
            ).all()
        )
        members = set(
            connection.execute(
                sa.select(
                    schema.okta_group_members.c.okta_group_id, schema.okta_group_members.c.okta_id
                )
            ).all()
        )
    assert set(users) == {"00u1", "00u2", "00u3"}
    assert users["00u1"].replace(tzinfo=UTC) == T1
    assert names == {"00g1": "Engineering", "00g2": "Sales"}
    assert tuple(team) == ("Engineering", "d")
    assert tallies == {("00u1", False, "t1b"), ("00u2", False, "t2"), ("00u3", True, "t3")}
    assert members == {("00g1", "00u1"), ("00g1", "00u2"), ("00g1", "00u3")}


def test_rows_deleted_and_given_again_in_one_apply_go_back_in(directory: Directory) -> None:
    """Every row of the integration deleted, then the same keys upserted, in one transaction:
    the table holds none of them by then, so they go straight in, and must not collide."""
    directory.apply(first_sync())
    again = dataclasses.replace(
        first_sync(),
        synced_at=T1,
        okta_users_delete=("00u1", "00u2"),
        okta_groups_delete=("00g1", "00g2"),
        tallies_delete=("00u1", "00u2"),
    )
    directory.apply(again)
    rows = dump(directory, KEY)
    assert len(rows["okta_users"]) == 2 and len(rows["okta_groups"]) == 2
    assert len(rows["okta_group_members"]) == 3 and len(rows["okta_user_tallies"]) == 2


def test_a_new_integration_beside_one_with_the_same_keys(directory: Directory) -> None:
    directory.apply(first_sync(OTHER))
    before_other = dump(directory, OTHER)
    directory.apply(first_sync(KEY))  # straight in: the same keys, another integration
    assert dump(directory, OTHER) == before_other
    assert {k: len(v) for k, v in dump(directory, KEY).items()} == {
        k: len(v) for k, v in before_other.items()
    }
    # A duplicate in the new one's first sync fails it alone.
    directory.apply(
        DirectoryChanges(integration=KEY, synced_at=T1, tallies_upsert=(("00u1", True, "x"),))
    )
    assert dump(directory, OTHER) == before_other


def test_a_first_apply_waiting_on_another_writer_of_the_integration_upserts(
    directory: Directory,
) -> None:
    """Two first syncs of one integration at once (no base version: changes built by hand):
    the second waits on the first's lock, and must see its rows once it goes on (READ
    COMMITTED: each statement's own snapshot), so it upserts rather than inserting straight
    into keys just taken."""
    import threading
    import time

    errors: list[BaseException] = []
    with database.write_transaction(directory.engine) as other:  # committed as it ends
        other.execute(sa.insert(schema.integrations).values(integration=KEY))
        other.execute(
            sa.insert(schema.okta_users).values(
                integration=KEY, okta_id="00u1", status="ACTIVE", last_updated=T0, profile={}
            )
        )
        other.execute(
            sa.insert(schema.okta_user_tallies).values(
                integration=KEY, okta_id="00u1", in_scope=False, tally="old"
            )
        )

        def apply() -> None:
            try:
                directory.apply(first_sync())
            except BaseException as exc:  # reported below
                errors.append(exc)

        waiting = threading.Thread(target=apply)
        waiting.start()
        time.sleep(0.5)
        assert waiting.is_alive(), "the second writer did not wait for the first"
    waiting.join(30)
    assert errors == []
    rows = dump(directory, KEY)
    assert len(rows["okta_users"]) == 2 and len(rows["okta_user_tallies"]) == 2
    assert any("'t1'" in row for row in rows["okta_user_tallies"])


def test_a_key_given_twice_far_past_the_first_rows_fails_cleanly(directory: Directory) -> None:
    """The duplicate is the last of more rows than a COPY's first batch and a staged write's
    threshold: the whole first sync is refused in one line, nothing of it stays."""
    from okta_hris.directory.statements import CHUNK_ROWS

    many = CHUNK_ROWS + 7
    users = tuple(user(f"00u{n:06d}", login=f"secret{n}") for n in range(many))
    tallies = tuple((u.id, True, "t") for u in users)
    changes = DirectoryChanges(
        integration=KEY,
        synced_at=T0,
        okta_users_upsert=users,
        tallies_upsert=(*tallies, ("00u000000", False, "again")),
    )
    before = dump(directory)
    with pytest.raises(DirectoryError) as caught:
        directory.apply(changes)
    text = str(caught.value)
    assert "\n" not in text and "secret" not in text and "00u000000" not in text
    assert dump(directory) == before
    directory.apply(dataclasses.replace(changes, tallies_upsert=tallies))
    directory.apply(changes)  # rows exist now: upserted, the last value winning
    assert len(dump(directory, KEY)["okta_user_tallies"]) == many


def test_two_new_integrations_applying_at_once_both_go_straight_in(directory: Directory) -> None:
    import threading

    def big(integration: str) -> DirectoryChanges:
        users = tuple(user(f"00u{n:05d}") for n in range(1500))
        return DirectoryChanges(
            integration=integration,
            synced_at=T0,
            okta_users_upsert=users,
            okta_groups_upsert=(group("00g1", "Eng"),),
            okta_members_add=Pairs({"00g1": [u.id for u in users]}),
            teams_upsert=(Team(okta_group_id="00g1", name="Eng"),),
            tallies_upsert=tuple((u.id, True, "t") for u in users),
        )

    errors: list[BaseException] = []

    def apply(integration: str) -> None:
        try:
            directory.apply(big(integration))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=apply, args=(key,)) for key in (KEY, OTHER)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    for key in (KEY, OTHER):
        rows = dump(directory, key)
        assert len(rows["okta_users"]) == len(rows["okta_group_members"]) == 1500
