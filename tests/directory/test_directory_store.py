"""Directory.load_state / apply and the reads, each on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, timedelta

import pytest
from sqlalchemy import Connection, select, text, update

from okta_hris.directory import Directory
from okta_hris.directory.database import write_transaction
from okta_hris.directory.schema import employees, integrations, invitations
from okta_hris.domain.changes import (
    DirectoryState,
    DirectorySummary,
    OktaGroupRecord,
    OktaUserRecord,
    SyncRunRecord,
    SyncState,
)
from okta_hris.domain.employees import Team
from okta_hris.domain.invitations import InvitationCounts, InvitationRequest
from okta_hris.errors import DirectoryError
from tests.support.directory import recent_runs

from .directory_samples import BERLIN, INTEGRATION, T0, changes, employee, table_contents

ENGINEERING = Team(okta_group_id="00g-eng", name="Engineering", description="Builds things")
DEVELOPPEMENT = Team(okta_group_id="00g-dev", name="Développement", description=None)


def _seed(directory: Directory) -> None:
    """Two teams, two employees, memberships: the baseline several tests change."""
    directory.apply(
        changes(
            teams_upsert=[ENGINEERING, DEVELOPPEMENT],
            employees_create=[
                employee("00u-ann", teams=("Développement", "Engineering")),
                employee("00u-bob", teams=("Engineering",)),
            ],
            memberships_add=[
                ("00u-ann", "00g-eng"),
                ("00u-ann", "00g-dev"),
                ("00u-bob", "00g-eng"),
            ],
        )
    )


def test_round_trip_of_every_table_and_field(directory: Directory) -> None:
    full = employee(
        "00u-zoë",
        display_name="Zoë Ångström 李小龍",
        first_name="Zoë",
        last_name="Ångström 李小龍",
        personal_email="zoë@home.example",
        title="Ingénieure principale",
        department="Développement",
        employee_number="0042",
        manager="Grace O\u2019Hopper",
        street_address="Straße 1\nHinterhaus",
        city="Zürich",
        state="Zürich",
        state_code="CH-ZH",
        country_code="CH",
        teams=("Développement", "Engineering"),
        okta_last_updated=T0.astimezone(BERLIN),
        first_synced_at=T0.astimezone(BERLIN) - timedelta(days=30),
        last_synced_at=T0,
        active=False,
        okta_status="SUSPENDED",
        deactivated_at=T0 - timedelta(hours=1),
    )
    sparse = employee(
        "00u-min",
        first_name=None,
        last_name=None,
        work_email=None,
        personal_email=None,
        employment_status=None,
        title=None,
        department=None,
        employee_number=None,
        manager=None,
        mobile_phone=None,
        mobile_phone_e164=None,
        street_address=None,
        country_code=None,
        state=None,
        state_code=None,
        city=None,
        zip_code=None,
        teams=(),
    )
    # Every field is set in one row: a column the store forgot would not read back equal.
    assert None not in dataclasses.asdict(full).values()
    user = OktaUserRecord(
        id="00u-zoë",
        status="SUSPENDED",
        last_updated=T0.astimezone(BERLIN),
        profile={"displayName": "Zoë Ångström 李小龍", "nested": {"list": [1, None, "ü"]}},
    )
    group = OktaGroupRecord(
        id="00g-dev",
        type="OKTA_GROUP",
        name="Développement",
        description="équipe",
        last_updated=T0,
        last_membership_updated=T0.astimezone(BERLIN),
    )
    bare_group = OktaGroupRecord(
        id="00g-eng", type="APP_GROUP", name="Engineering", last_updated=T0
    )
    sync_state = SyncState(
        spec_hash="a" * 64,
        watermark=T0.astimezone(BERLIN),
        last_full_sync_at=T0,
        invitations_enabled_at=T0 - timedelta(days=1),
    )
    run = SyncRunRecord(
        integration=INTEGRATION,
        mode="Full",
        started_at=T0 - timedelta(seconds=3),
        finished_at=T0,
        outcome="succeeded",
        stats={"fetched": 2, "created": 2, "note": "ünïcode"},
    )
    directory.apply(
        changes(
            teams_upsert=[ENGINEERING, DEVELOPPEMENT],
            employees_create=[full, sparse],
            memberships_add=[("00u-zoë", "00g-eng"), ("00u-zoë", "00g-dev")],
            okta_users_upsert=[user],
            okta_groups_upsert=[group, bare_group],
            okta_members_add=[("00g-dev", "00u-zoë"), ("00g-eng", "00u-zoë")],
            invitations_queue=[InvitationRequest(okta_id="00u-min", email="min@example.com")],
            sync_state=sync_state,
        ),
        run=run,
    )

    state = directory.load_state(INTEGRATION)

    assert state.employees == {"00u-zoë": full, "00u-min": sparse}
    for row in state.employees.values():
        for moment in (row.okta_last_updated, row.first_synced_at, row.last_synced_at):
            assert moment.utcoffset() == timedelta(0)
    assert state.employees["00u-zoë"].okta_last_updated.tzinfo == UTC
    assert state.teams == {"00g-eng": ENGINEERING, "00g-dev": DEVELOPPEMENT}
    assert state.memberships == {"00u-zoë": ("00g-dev", "00g-eng")}  # sorted
    assert state.okta_users == {"00u-zoë": user}
    assert state.okta_groups == {"00g-dev": group, "00g-eng": bare_group}
    assert state.okta_members == {
        "00g-dev": frozenset({"00u-zoë"}),
        "00g-eng": frozenset({"00u-zoë"}),
    }
    assert state.sync_state == sync_state
    assert state.sync_state.watermark is not None and state.sync_state.watermark.tzinfo == UTC
    assert state.invited == frozenset({"00u-min"})
    assert recent_runs(directory, INTEGRATION) == [run]


def test_state_of_an_unknown_integration_is_empty(directory: Directory) -> None:
    _seed(directory)
    assert directory.load_state("other/namespace") == DirectoryState()


def test_integrations_do_not_see_each_other(directory: Directory) -> None:
    _seed(directory)
    directory.apply(
        changes(
            integration="other/acme",
            teams_upsert=[Team(okta_group_id="00g-eng", name="Other engineering")],
            employees_create=[
                employee("00u-ann", integration="other/acme", display_name="Other Ann")
            ],
            memberships_add=[("00u-ann", "00g-eng")],
            sync_state=SyncState(spec_hash="other"),
        )
    )

    mine = directory.load_state(INTEGRATION)
    theirs = directory.load_state("other/acme")
    assert mine.employees["00u-ann"].display_name == "Employee 00u-ann"
    assert theirs.employees["00u-ann"].display_name == "Other Ann"
    assert set(theirs.employees) == {"00u-ann"}
    assert theirs.teams == {"00g-eng": Team(okta_group_id="00g-eng", name="Other engineering")}
    assert mine.sync_state.spec_hash is None
    assert directory.integrations() == ["other/acme", INTEGRATION]


def test_update_rewrites_every_column_but_first_synced_at(directory: Directory) -> None:
    _seed(directory)
    later = T0 + timedelta(hours=1)
    changed = employee(
        "00u-bob",
        okta_status="DEPROVISIONED",
        active=False,
        display_name="Robert Tables",
        first_name="Robert",
        last_name="Tables",
        work_email="robert@example.org",
        personal_email=None,
        employment_status="Contractor",
        title="Database Administrator",
        department="Operations",
        employee_number="E-2002",
        manager=None,
        mobile_phone="030 1234567",
        mobile_phone_e164="+49301234567",
        street_address="Unter den Linden 1",
        country_code="DE",
        state="Berlin",
        state_code="DE-BE",
        city="Berlin",
        zip_code="10117",
        teams=(),
        okta_last_updated=later,
        first_synced_at=later,  # must be ignored: the first sync stays the first sync
        last_synced_at=later,
        deactivated_at=later,
    )
    directory.apply(
        changes(
            synced_at=later,
            employees_update=[changed],
            memberships_remove=[("00u-bob", "00g-eng")],
        )
    )

    stored = directory.load_state(INTEGRATION).employees["00u-bob"]
    assert stored == dataclasses.replace(changed, first_synced_at=T0)
    assert directory.load_state(INTEGRATION).employees["00u-ann"] == employee(
        "00u-ann", teams=("Développement", "Engineering")
    )


def test_update_of_an_employee_not_in_the_directory_fails_and_changes_nothing(
    directory: Directory,
) -> None:
    _seed(directory)
    before = table_contents(directory.engine)
    with pytest.raises(DirectoryError, match="1 of the employees to update"):
        directory.apply(
            changes(
                employees_update=[employee("00u-ann", display_name="Ann"), employee("00u-ghost")],
                sync_state=SyncState(spec_hash="new"),
            )
        )
    assert table_contents(directory.engine) == before


def test_removing_memberships_and_deleting_teams(directory: Directory) -> None:
    _seed(directory)
    directory.apply(
        changes(
            memberships_remove=[("00u-ann", "00g-eng")],
            # Ann is still a member of 00g-dev: deleting the team must take that row along.
            teams_delete=["00g-dev"],
            teams_upsert=[Team(okta_group_id="00g-eng", name="Engineering (renamed)")],
        )
    )
    state = directory.load_state(INTEGRATION)
    assert state.teams == {"00g-eng": Team(okta_group_id="00g-eng", name="Engineering (renamed)")}
    assert state.memberships == {"00u-bob": ("00g-eng",)}

    directory.apply(changes(memberships_add=[("00u-ann", "00g-eng"), ("00u-bob", "00g-eng")]))
    assert directory.load_state(INTEGRATION).memberships == {
        "00u-ann": ("00g-eng",),
        "00u-bob": ("00g-eng",),
    }


def test_okta_mirror_add_update_and_remove(directory: Directory) -> None:
    users = [
        OktaUserRecord(id=f"00u-{n}", status="ACTIVE", last_updated=T0, profile={"n": n})
        for n in range(3)
    ]
    groups = [
        OktaGroupRecord(id=f"00g-{n}", type="OKTA_GROUP", name=f"Group {n}", last_updated=T0)
        for n in range(3)
    ]
    directory.apply(
        changes(
            okta_users_upsert=users,
            okta_groups_upsert=groups,
            okta_members_add=[(f"00g-{g}", f"00u-{u}") for g in range(3) for u in range(3)],
        )
    )
    assert directory.load_state(INTEGRATION).okta_members == {
        f"00g-{g}": frozenset({"00u-0", "00u-1", "00u-2"}) for g in range(3)
    }

    renamed = dataclasses.replace(groups[0], name="Group zero", last_updated=T0 + timedelta(1))
    suspended = users[1].replace(status="SUSPENDED", profile={"n": "one"})
    directory.apply(
        changes(
            okta_users_upsert=[suspended],
            okta_groups_upsert=[renamed],
            okta_users_delete=["00u-2"],
            okta_groups_delete=["00g-2"],
            okta_members_remove=[("00g-0", "00u-0")],
            # Adding a pair that is already there is harmless.
            okta_members_add=[("00g-1", "00u-0")],
        )
    )

    state = directory.load_state(INTEGRATION)
    assert state.okta_users == {"00u-0": users[0], "00u-1": suspended}
    assert state.okta_groups == {"00g-0": renamed, "00g-1": groups[1]}
    # The deleted user's and the deleted group's member rows went with them.
    assert state.okta_members == {
        "00g-0": frozenset({"00u-1"}),
        "00g-1": frozenset({"00u-0", "00u-1"}),
    }


def test_invitations_are_queued_once_and_never_reset(directory: Directory) -> None:
    _seed(directory)
    queue = [InvitationRequest(okta_id="00u-ann", email="ann@example.com")]
    directory.apply(changes(invitations_queue=queue))
    with directory.engine.connect() as connection:
        rows = connection.execute(select(invitations)).mappings().all()
    assert len(rows) == 1
    assert rows[0]["status"] == "pending"
    assert rows[0]["attempts"] == 0
    assert rows[0]["email"] == "ann@example.com"
    assert rows[0]["created_at"] == T0
    assert rows[0]["sent_at"] is None

    sent_at = T0 + timedelta(minutes=1)
    with directory.engine.begin() as connection:
        connection.execute(
            update(invitations).values(status="sent", attempts=1, sent_at=sent_at, message_id="m1")
        )
    directory.apply(
        changes(
            synced_at=T0 + timedelta(hours=1),
            invitations_queue=[
                InvitationRequest(okta_id="00u-ann", email="changed@example.com"),
                InvitationRequest(okta_id="00u-bob", email="bob@example.com"),
                InvitationRequest(okta_id="00u-bob", email="bob-again@example.com"),
            ],
        )
    )

    with directory.engine.connect() as connection:
        by_id = {
            row["okta_id"]: row for row in connection.execute(select(invitations)).mappings().all()
        }
    assert set(by_id) == {"00u-ann", "00u-bob"}
    ann = by_id["00u-ann"]
    assert (ann["status"], ann["attempts"], ann["email"], ann["sent_at"], ann["message_id"]) == (
        "sent",
        1,
        "ann@example.com",
        sent_at,
        "m1",
    )
    assert ann["created_at"] == T0
    assert by_id["00u-bob"]["email"] == "bob@example.com"
    assert directory.load_state(INTEGRATION).invited == frozenset({"00u-ann", "00u-bob"})


def test_sync_state_round_trip_and_removal(directory: Directory) -> None:
    first = SyncState(spec_hash="one", watermark=T0, last_full_sync_at=T0)
    directory.apply(changes(sync_state=first))
    assert directory.load_state(INTEGRATION).sync_state == first

    directory.mark_integration_removed(INTEGRATION, T0 + timedelta(days=1))
    assert directory.integrations() == [INTEGRATION]
    assert directory.integrations(include_removed=False) == []
    # Removing the OktaIntegration keeps its rows and its bookkeeping.
    assert directory.load_state(INTEGRATION).sync_state == first

    second = SyncState(
        spec_hash="two",
        watermark=T0 + timedelta(days=2),
        last_full_sync_at=T0 + timedelta(days=2),
        invitations_enabled_at=T0 + timedelta(days=2),
    )
    directory.apply(changes(synced_at=T0 + timedelta(days=2), sync_state=second))
    assert directory.integrations(include_removed=False) == [INTEGRATION]
    assert directory.load_state(INTEGRATION).sync_state == second

    directory.mark_integration_removed("never/synced", T0)
    assert directory.integrations() == ["never/synced", INTEGRATION]


def test_failed_apply_leaves_every_table_as_it_was(directory: Directory) -> None:
    _seed(directory)
    directory.apply(
        changes(
            okta_users_upsert=[
                OktaUserRecord(id="00u-ann", status="ACTIVE", last_updated=T0, profile={})
            ],
            invitations_queue=[InvitationRequest(okta_id="00u-ann", email="ann@example.com")],
            sync_state=SyncState(spec_hash="before"),
        )
    )
    before = table_contents(directory.engine)
    later = T0 + timedelta(hours=1)

    failing = changes(
        synced_at=later,
        teams_upsert=[
            Team(okta_group_id="00g-new", name="New"),
            dataclasses.replace(ENGINEERING, name="Renamed"),
        ],
        teams_delete=["00g-dev"],
        memberships_remove=[("00u-bob", "00g-eng")],
        okta_users_upsert=[
            OktaUserRecord(id="00u-new", status="ACTIVE", last_updated=later, profile={"a": 1})
        ],
        okta_users_delete=["00u-ann"],
        okta_groups_upsert=[
            OktaGroupRecord(id="00g-new", type="OKTA_GROUP", name="New", last_updated=later)
        ],
        okta_members_add=[("00g-new", "00u-new")],
        employees_update=[employee("00u-bob", display_name="Changed", last_synced_at=later)],
        invitations_queue=[InvitationRequest(okta_id="00u-new", email="new@example.com")],
        sync_state=SyncState(spec_hash="after", watermark=later),
        # A valid new employee first, then one whose primary key is taken.
        employees_create=[employee("00u-new"), employee("00u-ann", display_name="Dup")],
    )
    run = SyncRunRecord(
        integration=INTEGRATION,
        mode="Full",
        started_at=T0,
        finished_at=later,
        outcome="succeeded",
    )

    with pytest.raises(DirectoryError) as raised:
        directory.apply(failing, run)

    assert table_contents(directory.engine) == before
    message = str(raised.value)
    assert message.startswith(f"cannot apply the sync of {INTEGRATION}: ")
    assert "\n" not in message
    # Neither the SQL nor the row (personal data) is repeated in the message.
    assert "INSERT" not in message and "Dup" not in message and "example.com" not in message
    assert raised.value.__cause__ is not None


def test_naive_datetimes_are_refused_and_nothing_is_written(directory: Directory) -> None:
    before = table_contents(directory.engine)
    naive = employee("00u-ann", okta_last_updated=T0.replace(tzinfo=None))
    with pytest.raises(DirectoryError, match="naive datetime"):
        directory.apply(changes(employees_create=[naive], sync_state=SyncState(spec_hash="x")))
    assert table_contents(directory.engine) == before


def test_rows_of_another_integration_are_refused(directory: Directory) -> None:
    stray = employee("00u-ann", integration="someone/else")
    with pytest.raises(ValueError, match="someone/else"):
        directory.apply(changes(employees_create=[stray]))
    assert directory.integrations() == []


def test_list_employees_filters(directory: Directory) -> None:
    directory.apply(
        changes(
            teams_upsert=[ENGINEERING, DEVELOPPEMENT],
            employees_create=[
                employee("00u-1", display_name="Carla", country_code="DE"),
                employee("00u-2", display_name="Anna", country_code="US"),
                employee(
                    "00u-3",
                    display_name="Bert",
                    country_code="de",
                    active=False,
                    okta_status="SUSPENDED",
                    deactivated_at=T0,
                ),
                employee("00u-4", display_name="Anna", country_code=None),
            ],
            memberships_add=[
                ("00u-1", "00g-dev"),
                ("00u-2", "00g-eng"),
                ("00u-3", "00g-dev"),
                ("00u-3", "00g-eng"),
            ],
        )
    )
    directory.apply(
        changes(
            integration="a/first",
            employees_create=[employee("00u-9", integration="a/first", country_code="DE")],
        )
    )

    def ids(**filters: object) -> list[str]:
        return [row.okta_id for row in directory.list_employees(**filters)]  # type: ignore[arg-type]

    # Ordered by integration, then display name, then okta id.
    assert ids() == ["00u-9", "00u-2", "00u-4", "00u-3", "00u-1"]
    assert ids(integration=INTEGRATION) == ["00u-2", "00u-4", "00u-3", "00u-1"]
    assert ids(country="de") == ["00u-9", "00u-3", "00u-1"]
    assert ids(country="De", integration=INTEGRATION, active=True) == ["00u-1"]
    assert ids(active=False) == ["00u-3"]
    assert ids(team="DÉVELOPPEMENT") == ["00u-3", "00u-1"]
    assert ids(team="engineering", active=True) == ["00u-2"]
    assert ids(team="engineering", integration="a/first") == []
    assert ids(team="Nobody's team") == []
    rows = directory.list_employees(integration=INTEGRATION, team="Engineering")
    assert [row.okta_id for row in rows] == ["00u-2", "00u-3"]
    assert rows[0] == employee("00u-2", display_name="Anna", country_code="US")


def test_summary_counts(directory: Directory) -> None:
    _seed(directory)
    directory.apply(
        changes(
            employees_create=[
                employee("00u-cy", active=False, okta_status="DEPROVISIONED", deactivated_at=T0)
            ],
            invitations_queue=[
                InvitationRequest(okta_id=okta_id, email=f"{okta_id}@example.com")
                for okta_id in ("00u-ann", "00u-bob", "00u-cy")
            ],
        )
    )
    with directory.engine.begin() as connection:
        for okta_id, status in (("00u-ann", "sent"), ("00u-bob", "failed")):
            connection.execute(
                update(invitations).where(invitations.c.okta_id == okta_id).values(status=status)
            )

    summary = directory.summary(INTEGRATION)

    assert summary == DirectorySummary(
        total=3,
        active=2,
        inactive=1,
        teams=2,
        invitations=InvitationCounts(sent=1, pending=1, failed=1),
    )
    assert directory.summary("other/acme") == DirectorySummary(0, 0, 0, 0)


def test_runs_are_recorded_newest_first(directory: Directory) -> None:
    def run(minute: int, outcome: str) -> SyncRunRecord:
        return SyncRunRecord(
            integration=INTEGRATION,
            mode="Incremental",
            started_at=T0 + timedelta(minutes=minute),
            finished_at=T0 + timedelta(minutes=minute, seconds=5),
            outcome=outcome,  # type: ignore[arg-type]
            stats={"apiRequests": minute},
            error="Okta unavailable" if outcome == "failed" else None,
        )

    directory.record_run(run(0, "failed"))
    directory.apply(changes(), run(1, "succeeded"))
    directory.record_run(run(2, "held"))

    assert recent_runs(directory, INTEGRATION) == [
        run(2, "held"),
        run(1, "succeeded"),
        run(0, "failed"),
    ]
    assert recent_runs(directory, INTEGRATION, limit=1) == [run(2, "held")]
    assert recent_runs(directory, "other/acme") == []
    assert directory.integrations() == [INTEGRATION]


def test_ten_thousand_employees_in_one_apply(directory: Directory) -> None:
    count = 10_000
    team_ids = [f"00g-{n:02d}" for n in range(50)]
    rows = [
        employee(f"00u-{n:05d}", display_name=f"Émployée {n}", teams=(f"Team {n % 50}",))
        for n in range(count)
    ]
    directory.apply(
        changes(
            teams_upsert=[Team(okta_group_id=g, name=f"Team {n}") for n, g in enumerate(team_ids)],
            employees_create=rows,
            memberships_add=[(row.okta_id, team_ids[n % 50]) for n, row in enumerate(rows)],
            okta_users_upsert=[
                OktaUserRecord(id=row.okta_id, status="ACTIVE", last_updated=T0, profile={})
                for row in rows
            ],
            okta_members_add=[(team_ids[n % 50], row.okta_id) for n, row in enumerate(rows)],
            invitations_queue=[
                InvitationRequest(okta_id=row.okta_id, email=f"{row.okta_id}@example.com")
                for row in rows
            ],
        )
    )
    later = T0 + timedelta(hours=1)
    directory.apply(
        changes(
            synced_at=later,
            employees_update=[dataclasses.replace(row, last_synced_at=later) for row in rows],
        )
    )

    state = directory.load_state(INTEGRATION)
    assert len(state.employees) == count
    assert len(state.memberships) == count
    assert len(state.okta_users) == count
    assert sum(len(members) for members in state.okta_members.values()) == count
    assert len(state.invited) == count
    assert state.employees["00u-09999"].last_synced_at == later
    assert directory.summary(INTEGRATION).total == count


def _hold_integration_lock(connection: Connection) -> None:
    # What every apply does first (on SQLite, write_transaction's BEGIN IMMEDIATE already did).
    connection.execute(
        select(integrations.c.integration)
        .where(integrations.c.integration == INTEGRATION)
        .with_for_update()
    )


def _wait_until_blocked(directory: Directory, worker: threading.Thread) -> None:
    if directory.engine.dialect.name == "postgresql":
        # Deterministic: wait until PostgreSQL reports the apply waiting for our row lock.
        while worker.is_alive():
            with directory.engine.connect() as connection:
                waiting = connection.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                )
            if waiting:
                return
            worker.join(0.02)
    else:
        # SQLite's busy handler is invisible from outside; give the apply time to reach it.
        worker.join(0.3)
    assert worker.is_alive(), "the apply did not wait for the transaction holding the lock"


def test_concurrent_applies_of_one_integration_run_one_after_the_other(
    directory: Directory,
) -> None:
    _seed(directory)
    failures: list[BaseException] = []

    def stale_apply() -> None:
        # Computed from the state before the other writer added 00u-new.
        try:
            directory.apply(
                changes(
                    employees_create=[employee("00u-new", display_name="From the stale sync")],
                    sync_state=SyncState(spec_hash="stale"),
                )
            )
        except BaseException as exc:
            failures.append(exc)

    worker = threading.Thread(target=stale_apply)
    with write_transaction(directory.engine) as connection:
        _hold_integration_lock(connection)
        worker.start()
        _wait_until_blocked(directory, worker)
        connection.execute(
            employees.insert().values(
                **dataclasses.asdict(employee("00u-new", display_name="From the first sync"))
                | {"teams": []}
            )
        )
        connection.execute(
            update(integrations)
            .where(integrations.c.integration == INTEGRATION)
            .values(spec_hash="first")
        )
    worker.join()

    # The stale apply ran after the first committed, saw its row, and wrote nothing at all.
    assert len(failures) == 1 and isinstance(failures[0], DirectoryError)
    state = directory.load_state(INTEGRATION)
    assert state.employees["00u-new"].display_name == "From the first sync"
    assert state.sync_state.spec_hash == "first"


def test_mirror_group_sizes_count_each_groups_members_of_this_integration(
    directory: Directory,
) -> None:
    pairs = [("00g-a", "00u-1"), ("00g-a", "00u-2"), ("00g-b", "00u-1")]
    directory.apply(changes(okta_members_add=pairs))
    directory.apply(changes(integration="other/beta", okta_members_add=[("00g-a", "00u-9")]))
    assert directory.mirror_group_sizes(INTEGRATION) == {"00g-a": 2, "00g-b": 1}
    directory.apply(changes(okta_members_remove=[("00g-b", "00u-1")]))
    assert directory.mirror_group_sizes(INTEGRATION) == {"00g-a": 2}
