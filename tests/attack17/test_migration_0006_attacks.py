"""Red-team of migration 0006 (key columns to COLLATE "C" on PostgreSQL).

The migration skips a table a *view or rule* reads, but PostgreSQL refuses to change the
type of a column used by other objects too: a row-level security policy (the operator
already anticipates RLS on its tables, see statements._server_allows), a trigger's WHEN
clause, a SQL-standard function body. Each then failed the whole upgrade, so the operator
could not open its directory at all (every replica crash-loops). Now each table is altered
in a savepoint of its own, and one PostgreSQL refuses keeps its collation with a warning."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from okta_hris.directory import Directory
from tests.directory.directory_samples import INTEGRATION, changes, employee
from tests.directory.test_directory_migration_0006 import key_collations, migrate
from tests.support.threads import at_once

pytestmark = pytest.mark.postgres


def _upgrade_with(postgres_url: str, ddl: list[str]) -> None:
    with Directory.open(postgres_url, migrate=False) as directory:
        migrate(directory.engine, "0005")
        directory.apply(changes(employees_create=[employee("00ua"), employee("00uB")]))
        with directory.engine.begin() as connection:
            for statement in ddl:
                connection.execute(text(statement))
    # The operator's own start: must not fail because another user's object reads a key.
    with Directory.open(postgres_url) as directory:
        assert {e for e in directory.load_state(INTEGRATION).employees} == {"00ua", "00uB"}
        found = key_collations(directory.engine)
        assert found["teams", "okta_group_id"] == "C"  # the untouched tables still migrate


def test_a_row_level_security_policy_on_integration_does_not_fail_the_upgrade(
    postgres_url: str,
) -> None:
    _upgrade_with(
        postgres_url,
        [
            "ALTER TABLE employees ENABLE ROW LEVEL SECURITY",
            "CREATE POLICY tenant ON employees USING (integration <> 'forbidden')",
        ],
    )


def test_a_trigger_when_clause_on_okta_id_does_not_fail_the_upgrade(postgres_url: str) -> None:
    _upgrade_with(
        postgres_url,
        [
            "CREATE FUNCTION audit_noop() RETURNS trigger LANGUAGE plpgsql "
            "AS $$BEGIN RETURN NEW; END$$",
            "CREATE TRIGGER audit BEFORE UPDATE ON employees FOR EACH ROW "
            "WHEN (OLD.okta_id IS DISTINCT FROM NEW.okta_id) EXECUTE FUNCTION audit_noop()",
        ],
    )


def test_a_rule_on_the_directory_table_itself_does_not_fail_the_upgrade(
    postgres_url: str,
) -> None:
    """The skip looks for rules of *other* relations (``r.ev_class <> t.oid``, meant to ignore
    a view's own _RETURN rule), so an audit rule defined ON employees, which reads its
    ``NEW.okta_id``, is not seen, and ALTER TABLE fails with "cannot alter type of a column
    used by a view or rule"."""
    _upgrade_with(
        postgres_url,
        [
            "CREATE TABLE employee_audit (okta_id text)",
            "CREATE RULE audit_insert AS ON INSERT TO employees "
            "DO ALSO INSERT INTO employee_audit VALUES (NEW.okta_id)",
        ],
    )


def test_the_statement_the_warning_gives_makes_the_keys_c_once_the_view_is_gone(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """0006 is recorded as applied even where it skipped a table, so a restart alone changes
    nothing: the warning must give a statement that works once the view is dropped."""
    with Directory.open(postgres_url, migrate=False) as directory:
        migrate(directory.engine, "0005")
        with directory.engine.begin() as connection:
            connection.execute(text("CREATE VIEW people AS SELECT okta_id FROM employees"))
    with caplog.at_level(logging.WARNING), Directory.open(postgres_url) as directory:
        assert key_collations(directory.engine)["employees", "okta_id"] is None
    (advice,) = [r.getMessage() for r in caplog.records if "keeps its collation" in r.getMessage()]
    statement = advice.split("run: ", 1)[1]
    with Directory.open(postgres_url) as directory:
        with directory.engine.begin() as connection:
            connection.execute(text("DROP VIEW people"))
            connection.exec_driver_sql(statement)
        found = key_collations(directory.engine)
        assert found["employees", "okta_id"] == "C"
        assert found["employees", "integration"] == "C"
        directory.apply(changes(employees_create=[employee("00ua")]))
        assert set(directory.load_state(INTEGRATION).employees) == {"00ua"}


def test_two_replicas_upgrading_at_once_both_open_and_keep_the_rows(postgres_url: str) -> None:
    """Pin: the advisory lock orders the two upgrades; neither fails, the rows stay."""
    with Directory.open(postgres_url, migrate=False) as directory:
        migrate(directory.engine, "0005")
        directory.apply(changes(employees_create=[employee("00ua"), employee("00uB")]))

    def replica() -> None:
        with Directory.open(postgres_url) as opened:
            assert set(opened.load_state(INTEGRATION).employees) == {"00ua", "00uB"}

    errors = at_once(replica)
    assert errors == []
    with Directory.open(postgres_url) as directory:
        assert set(key_collations(directory.engine).values()) == {"C"}


def test_a_publication_row_filter_on_integration_does_not_fail_the_upgrade(
    postgres_url: str,
) -> None:
    """Logical replication of one integration's employees to a warehouse (PostgreSQL 15 row
    filter): "cannot alter type of a column used by a publication WHERE clause"."""
    _upgrade_with(
        postgres_url,
        ["CREATE PUBLICATION warehouse FOR TABLE employees WHERE (integration <> 'test')"],
    )
