"""Red-team of the mirror's canonical profile bytes (domain/profiles.py, OktaUserRecord) and the
streamed writes / insert_pairs (directory/statements.py): hostile Okta values through a Full
then a later sync must not rewrite the mirror; old-format rows must compare equal."""

from __future__ import annotations

import asyncio
import copy
import json
import pickle
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from okta_hris.directory import schema
from okta_hris.directory.store import Directory
from okta_hris.domain.changes import DirectoryChanges, OktaGroupRecord, OktaUserRecord
from okta_hris.domain.employees import Employee, EmployeeRow, Team
from okta_hris.settings import Settings
from okta_hris.sync.engine import SyncReport, SyncRequest, run_sync
from tests.attack16.test_changed_part_hostile_ids import SPEC, sync
from tests.sync.hostile_org import HostileOrg, okta_group, okta_user

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
KEY = "acme/attack18"

HOSTILE: dict[str, Any] = {
    "title": "Chief\x00Officer",
    "nick\x00": "collides",
    "nick": "first",
    "big": 10**30,
    "u64": 2**64,
    "neg0": -0.0,
    "f16": 1e16,
    "one": 1,
    "onef": 1.0,
    "yes": True,
    "tiny": 5e-324,
    "esc": 'quote" back\\ slash / \u2028 \x01 \x7f é 😀',
    "nested": {"z": [{"b": 1, "a": [1.5, None, {"y": {}, "x": []}]}], "a": None},
    "empty": "",
    "list": [],
}


def full_sync(org: HostileOrg, directory: Directory, integration: str) -> SyncReport:
    request = SyncRequest(
        integration=integration, spec=SPEC, token="t", okta_url=org.url, force_full=True
    )
    report = asyncio.run(run_sync(request, directory, Settings()))
    assert report.mode == "Full"
    return report


def captured_applies(monkeypatch: pytest.MonkeyPatch) -> list[DirectoryChanges]:
    seen: list[DirectoryChanges] = []
    original = Directory.apply

    def spy(self: Directory, changes: DirectoryChanges, run: Any = None) -> None:
        seen.append(changes)
        original(self, changes, run)

    monkeypatch.setattr(Directory, "apply", spy)
    return seen


def _set_org(org: HostileOrg) -> None:
    org.users = [okta_user("00uAda", **HOSTILE), okta_user("00uBob")]
    org.groups = [okta_group("00gEng", "Eng")]
    org.members = {"00gEng": ["00uAda", "00uBob"]}
    # What json.dumps does not write: NaN, a number past a double, a duplicated key, an
    # escaped NUL and lone surrogate in a key.
    org.rewrite = lambda body: body.replace(
        '"tiny": 5e-324',
        '"tiny": 5e-324, "nan": NaN, "huge": 1e400, "dup": 1, "dup": 2, '
        '"k\\u0000ey": 3, "s\\ud800": 4',
    )


def test_hostile_profiles_do_not_rewrite_the_mirror_on_the_next_sync(
    org: HostileOrg, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    _set_org(org)
    applies = captured_applies(monkeypatch)
    assert sync(org, directory, KEY).mode == "Full"
    first = applies[-1]
    ada = {u.id: u for u in first.okta_users_upsert}["00uAda"]
    profile = ada.profile
    assert profile["nan"] is None and profile["huge"] is None and profile["dup"] == 2
    assert profile["key"] == 3 and profile["s"] == 4 and profile["title"] == "ChiefOfficer"
    assert "nick\x00" not in profile
    stored = directory.load_state(KEY).okta_users
    assert stored["00uAda"] == ada and stored["00uAda"].profile == profile
    sync(org, directory, KEY)  # incremental: nothing changed, nothing listed
    assert [u.id for u in applies[-1].okta_users_upsert] == []
    before = len(applies)
    full_sync(org, directory, KEY)  # every user listed again and compared with the mirror
    assert len(applies) == before + 1
    assert [u.id for u in applies[-1].okta_users_upsert] == []


def test_rows_of_the_old_format_compare_equal_to_fresh_records(
    org: HostileOrg, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mirror written by the release before (json.dumps: spaces, \\u escapes, Okta's key
    order or any other) reads back as the very record a fresh listing makes: no rewrite of
    every profile after the upgrade."""
    _set_org(org)
    assert sync(org, directory, KEY).mode == "Full"
    users = schema.okta_users
    with directory.engine.begin() as connection:
        rows = connection.execute(
            sa.select(users.c.okta_id, users.c.profile).where(users.c.integration == KEY)
        ).all()
        for okta_id, profile in rows:
            reordered = dict(reversed(list(profile.items())))
            text = json.dumps(reordered, ensure_ascii=True, indent=1)
            connection.exec_driver_sql(
                "UPDATE okta_users SET profile = "
                + ("CAST(? AS TEXT)" if connection.dialect.name == "sqlite" else "%s::json")
                + (
                    " WHERE okta_id = ?"
                    if connection.dialect.name == "sqlite"
                    else " WHERE okta_id = %s"
                ),
                (text, okta_id),
            )
    applies = captured_applies(monkeypatch)
    full_sync(org, directory, KEY)
    assert len(applies) == 1
    assert [u.id for u in applies[-1].okta_users_upsert] == []


SYNCED: dict[str, Any] = {
    "okta_id": "00u1",
    "okta_status": "ACTIVE",
    "active": True,
    "display_name": "A",
    "teams": ("Eng",),
    "okta_last_updated": T0,
}


@pytest.mark.parametrize(
    "record",
    [
        OktaUserRecord(id="00u1", status="ACTIVE", last_updated=T0, profile=HOSTILE),
        OktaGroupRecord(id="00g1", type="OKTA_GROUP", name="Eng", last_updated=T0),
        Team(okta_group_id="00g1", name="Eng"),
        Employee(**SYNCED),
        EmployeeRow(**SYNCED, integration=KEY, first_synced_at=T0, last_synced_at=T0),
    ],
    ids=lambda r: type(r).__name__,
)
def test_records_pickle_and_copy_equal(record: object) -> None:
    for made in (
        pickle.loads(pickle.dumps(record)),
        copy.copy(record),
        copy.deepcopy(record),
    ):
        assert made == record and hash(made) == hash(record) and type(made) is type(record)


def test_records_of_equal_profiles_in_any_number_spelling_differ_only_by_type() -> None:
    """Pin: 1, 1.0 and True are different JSON (bytes differ); the old dict compare said equal."""

    def rec(v: object) -> OktaUserRecord:
        return OktaUserRecord(id="00u1", status="ACTIVE", last_updated=T0, profile={"a": v})

    assert rec(1) != rec(1.0) != rec(True)
    assert rec(-0.0) != rec(0.0)
    assert rec(0.1 + 0.2) == rec(0.30000000000000004)


def test_every_record_that_can_be_made_can_be_read() -> None:
    """Was a bug (fixed: the sign counts): a negative integer of 4,300 digits is "writable" (``str()`` takes it: Python's
    limit counts digits, not the sign), so ``storable_json`` keeps it and msgspec encodes it;
    msgspec's decoder counts the sign and refuses the very bytes the record holds. The record
    is made, and every later read of ``.profile`` (mapping, filters, repr) raises."""
    value = -int("9" * 4300)
    made = OktaUserRecord(id="00u1", status="ACTIVE", last_updated=T0, profile={"n": value})
    assert made.profile in ({"n": value}, {"n": None})


def test_a_mirror_row_with_such_a_number_loads_readable(directory: Directory) -> None:
    """Was a bug (same root, fixed): a mirror row holding that number (json.dumps writes it) loads
    (read_json falls back to json.loads) into a record whose profile cannot be read. Okta's
    client reads such a number as null (``_okta_int`` counts the sign), so only a row written
    by something else gets there: low severity, but the record's invariant is broken."""
    value = -int("9" * 4300)
    with directory.engine.begin() as connection:
        connection.execute(sa.insert(schema.integrations).values(integration=KEY))
        connection.execute(
            sa.insert(schema.okta_users).values(
                integration=KEY,
                okta_id="00u1",
                status="ACTIVE",
                last_updated=T0,
                profile={"login": "ann@example.com", "n": value},
            )
        )
    record = directory.load_state(KEY).okta_users["00u1"]
    assert record.profile["login"] == "ann@example.com"


@pytest.mark.parametrize("value", [2.50, 7, "text"], ids=["float", "int", "text"])
def test_a_jsonb_mirror_is_not_rewritten_for_its_key_order(
    org: HostileOrg, postgres_url: str, monkeypatch: pytest.MonkeyPatch, value: object
) -> None:
    """A jsonb column (a DBA's ALTER for indexing) gives keys back in its own order (shorter
    first): the canonical bytes sort them again, so no Full sync rewrites the row. (jsonb also
    respells some numbers, 1e16 as 10000000000000000, -0.0 as 0: a user holding one is
    rewritten each Full sync there, as exact JSON compares; the schema's column is json,
    which keeps the text.)"""
    with Directory.open(postgres_url) as directory:
        with directory.engine.begin() as connection:
            connection.exec_driver_sql(
                "ALTER TABLE okta_users ALTER COLUMN profile TYPE jsonb USING profile::jsonb"
            )
        org.users = [okta_user("00uAda", zzzzzzzzzz=value, b=value, score=value)]
        org.groups = [okta_group("00gEng", "Eng")]
        org.members = {"00gEng": ["00uAda"]}
        full_sync(org, directory, KEY)
        applies = captured_applies(monkeypatch)
        full_sync(org, directory, KEY)
        assert [u.id for u in applies[-1].okta_users_upsert] == []


def test_a_profile_given_as_any_mapping_is_kept() -> None:
    """Was a latent bug (fixed: any Mapping is read as a dict): ``OktaUserRecord(profile: Mapping[str, Any])`` and ``replace`` take
    any Mapping by their signature, but ``storable_json`` keeps only ``dict``: a read-only
    view (MappingProxyType), a ChainMap or a RowMapping silently becomes {} (every attribute
    lost, the user then maps as empty and is deactivated by the next plan)."""
    import collections
    import types

    profile = {"login": "ann@example.com", "countryCode": "DE"}
    for given in (types.MappingProxyType(profile), collections.ChainMap(profile)):
        made = OktaUserRecord(id="00u1", status="ACTIVE", last_updated=T0, profile=given)
        assert made.profile == profile, type(given).__name__


def test_hostile_profiles_through_the_staged_copy_read_back_equal(directory: Directory) -> None:
    """Pin: at least STAGED_ROWS mirror rows go through COPY into a staging table on
    PostgreSQL (text format: backslashes, tabs, newlines, \\N in the JSON text); each record
    reads back equal, and applying the same records again changes nothing."""
    from okta_hris.directory.statements import STAGED_ROWS

    odd = {"t": "a\tb\nc\\N\\", "q": '"\\u0000"', **HOSTILE}
    users = tuple(
        OktaUserRecord(id=f"00u{n}", status="ACTIVE", last_updated=T0, profile={**odd, "n": n})
        for n in range(STAGED_ROWS + 5)
    )
    directory.apply(DirectoryChanges(integration=KEY, synced_at=T0, okta_users_upsert=users))
    loaded = directory.load_state(KEY).okta_users
    assert all(loaded[u.id] == u for u in users)
    assert loaded["00u0"].profile["t"] == "a\tb\nc\\N\\"
    directory.apply(DirectoryChanges(integration=KEY, synced_at=T0, okta_users_upsert=users))
    assert directory.load_state(KEY).okta_users == loaded
