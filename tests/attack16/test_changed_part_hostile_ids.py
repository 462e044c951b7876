"""Red-team: an Okta user whose id the directory cannot store (mapping.unstorable) is left
out of a sync, named in a warning. Planned from the whole state nothing looks the id up;
planned from the changed part, the id is among the touched users and goes into the
``IN (...)`` queries of ``Directory.load_users`` / ``employees_in_teams``. A NUL
(PostgreSQL) or a lone surrogate (no UTF-8: both databases) in a bound parameter fails the
query: the incremental sync fails where the whole-state plan succeeds."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from okta_hris.directory.store import Directory
from okta_hris.resource.spec import OktaIntegrationSpec
from okta_hris.settings import Settings
from okta_hris.sync.engine import SyncReport, SyncRequest, run_sync
from tests.sync.hostile_org import HostileOrg, okta_group, okta_user, serve
from tests.sync.test_incremental_changed_part import stale_tallies

PART = "people-ops/part"
WHOLE = "people-ops/whole"
SPEC = OktaIntegrationSpec.model_validate(
    {"okta": {"subdomain": "acme", "tokenSecretRef": {"name": "okta"}}}
)


@pytest.fixture
def directory(database_url: str) -> Iterator[Directory]:
    with Directory.open(database_url) as opened:
        yield opened


@pytest.fixture
def org() -> Iterator[HostileOrg]:
    with serve(HostileOrg()) as served:
        yield served


def sync(org: HostileOrg, directory: Directory, integration: str) -> SyncReport:
    request = SyncRequest(integration=integration, spec=SPEC, token="t", okta_url=org.url)
    return asyncio.run(run_sync(request, directory, Settings()))


def outcome(report: SyncReport) -> tuple[object, ...]:
    return (
        report.mode,
        report.stats.matched,
        report.stats.created,
        report.stats.skipped,
        report.stats.unchanged,
        tuple(w.reason for w in report.plan.warnings),
    )


@pytest.mark.parametrize("bad_id", ["00u\x00nul", "00u\ud800surrogate"], ids=["nul", "surrogate"])
def test_an_unstorable_id_in_the_changed_listing_fails_no_incremental_sync(
    org: HostileOrg, directory: Directory, bad_id: str
) -> None:
    org.users = [okta_user("00uAda"), okta_user("00uBob")]
    org.groups = [okta_group("00gEng", "Engineering")]
    org.members = {"00gEng": ["00uAda", "00uBob"]}
    for integration in (PART, WHOLE):
        assert sync(org, directory, integration).mode == "Full"
    with org.lock:
        org.users = [*org.users, okta_user(bad_id)]
    stale_tallies(directory, WHOLE)
    whole = sync(org, directory, WHOLE)
    assert whole.mode == "Incremental" and whole.stats.skipped == 1
    part = sync(org, directory, PART)  # fails here: the bad id bound in load_users' IN (...)
    assert outcome(part) == outcome(whole)
