"""A huge approval annotation is one Warning, and the operator keeps answering (issue 13, 8).

A megabyte of digits in ``hris.dev/approve-deactivations`` on a held integration used to raise
in every pass of the loop (Python reads no more than 4,300 digits), and resyncs went
unanswered.
"""

from __future__ import annotations

from okta_hris.directory.store import Directory
from okta_hris.sandbox import Sandbox

from .conftest import Cluster, OperatorStarter
from .operator_harness import eventually, wait_for_status
from .test_operator_scenarios import (
    annotate,
    directory,
    most_common_country,
    org,
    ready,
    setup_integration,
)

__all__ = ["directory", "org"]  # the fixtures, imported to be used here

HUGE_APPROVAL = "9" * 1_000_000


async def test_a_huge_approval_of_a_hold_is_spent_once_and_resyncs_still_run(
    cluster: Cluster,
    start_operator: OperatorStarter,
    org: Sandbox,
    directory: Directory,
    sqlite_url: str,
) -> None:
    ns = await setup_integration(cluster, org, safety={"maxDeactivations": "2"})
    await start_operator([ns], database_url=sqlite_url, okta_url=org.url)
    await ready(cluster, ns)
    country, _ = most_common_country(directory, f"{ns}/acme")
    filtered = {"sync": {"scope": "Filtered"}, "filters": {"countries": {"include": [country]}}}
    await cluster.kube.patch_spec(ns, "acme", filtered)
    await wait_for_status(
        cluster.kube, ns, "acme", lambda st: "heldDeactivations" in st, what="the hold"
    )

    await annotate(cluster, ns, "acme", **{"hris.dev/approve-deactivations": HUGE_APPROVAL})
    status = await wait_for_status(
        cluster.kube, ns, "acme", lambda st: "lastHandledApproval" in st, what="the approval"
    )
    assert status["lastHandledApproval"]["result"] == "NoMatchingHold"
    # Recorded by its digest: the status stays small (every patch carries it).
    assert status["lastHandledApproval"]["value"].startswith("sha256:")
    assert "heldDeactivations" in status  # it released nothing

    # The operator still answers: a resync asked for afterwards is handled.
    await annotate(cluster, ns, "acme", **{"hris.dev/resync-requested-at": "after-the-approval"})
    await wait_for_status(
        cluster.kube,
        ns,
        "acme",
        lambda st: st.get("lastHandledResyncAt") == "after-the-approval",
        what="the resync",
    )

    async def ignored() -> list[str]:
        events = await cluster.kube.events(ns, "acme")
        return [e["message"] for e in events if e["reason"] == "ApprovalIgnored"]

    messages = await eventually(ignored, what="the event")
    assert len(messages) == 1  # one Warning, not one per pass of the loop
    assert messages[0].startswith('approval "999') and len(messages[0]) < 2_000
