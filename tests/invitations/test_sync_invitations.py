"""Invitations end to end: sandbox -> engine -> outbox -> SMTP, through real syncs."""

from __future__ import annotations

from typing import Any

import httpx

from okta_hris.directory.store import Directory
from okta_hris.invitations import deliver_pending
from okta_hris.resource.spec import OktaIntegrationSpec
from okta_hris.sandbox import Sandbox
from okta_hris.settings import Settings
from okta_hris.sync.engine import SyncReport, SyncRequest, run_sync

from .support import Mailbox, smtp_relay, smtp_settings

KEY = "people-ops/acme"


def spec(invitations: bool, **extra: Any) -> OktaIntegrationSpec:
    body: dict[str, Any] = {
        "okta": {"subdomain": "acme", "tokenSecretRef": {"name": "okta"}},
        "invitations": {
            "enabled": invitations,
            "dashboardUrl": "https://dashboard.example.com",
            "from": "People Ops <people-ops@example.com>",
            "smtpSecretRef": {"name": "smtp"},
        },
    }
    body.update(extra)
    return OktaIntegrationSpec.model_validate(body)


async def sync(sandbox: Sandbox, directory: Directory, the_spec: OktaIntegrationSpec) -> SyncReport:
    request = SyncRequest(integration=KEY, spec=the_spec, token=sandbox.token, okta_url=sandbox.url)
    return await run_sync(request, directory, Settings())


async def test_one_invitation_per_new_active_employee_ever(
    sandbox: Sandbox, directory: Directory, mailbox: Mailbox
) -> None:
    async with smtp_relay(mailbox) as port:
        smtp = smtp_settings(port)
        on = spec(invitations=True)

        async def deliver() -> None:
            await deliver_pending(directory.outbox, KEY, on.invitations, smtp, backoff_base=0)

        first = await sync(sandbox, directory, on)
        await deliver()
        active = [r for r in directory.list_employees(integration=KEY) if r.active and r.work_email]
        assert first.invitations_queued == len(active)
        assert sorted(a.lower() for a in mailbox.recipients()) == sorted(
            r.work_email.lower()
            for r in active  # type: ignore[union-attr]
        )
        message = mailbox.received[0].message
        assert message["Subject"] == "You're invited to your employee dashboard"  # no companyName
        assert "https://dashboard.example.com" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert message.get_body(("html",)) is not None

        # A resync, a deactivation and a return send nothing more.
        okta = httpx.AsyncClient(
            base_url=sandbox.url, headers={"Authorization": f"SSWS {sandbox.token}"}
        )
        someone = active[0].okta_id
        (await okta.post(f"/api/v1/users/{someone}/lifecycle/deactivate")).raise_for_status()
        await sync(sandbox, directory, on)
        (
            await okta.post(
                f"/api/v1/users/{someone}/lifecycle/activate", params={"sendEmail": "false"}
            )
        ).raise_for_status()
        await sync(sandbox, directory, on)
        await deliver()
        assert len(mailbox.received) == len(active)

        # A new hire is invited, once.
        hired = await okta.post(
            "/api/v1/users",
            params={"activate": "true"},
            json={
                "profile": {
                    "firstName": "Grace",
                    "lastName": "Hopper",
                    "email": "grace@example.com",
                    "login": "grace@example.com",
                }
            },
        )
        hired.raise_for_status()
        report = await sync(sandbox, directory, on)
        assert report.invitations_queued == 1
        await deliver()
        await deliver()
        assert [r.rcpt_tos for r in mailbox.received[len(active) :]] == [["grace@example.com"]]
        counts = directory.outbox.counts(KEY)
        assert (counts.sent, counts.pending, counts.failed) == (len(active) + 1, 0, 0)
        await okta.aclose()


async def test_enabling_on_a_populated_directory_invites_only_newcomers(
    sandbox: Sandbox, directory: Directory, mailbox: Mailbox
) -> None:
    await sync(sandbox, directory, spec(invitations=False))
    on = spec(invitations=True)
    report = await sync(sandbox, directory, on)
    assert report.invitations_queued == 0
    async with httpx.AsyncClient(
        base_url=sandbox.url, headers={"Authorization": f"SSWS {sandbox.token}"}
    ) as okta:
        staged = await okta.post(
            "/api/v1/users",
            params={"activate": "false"},
            json={
                "profile": {
                    "firstName": "Ada",
                    "lastName": "Byron",
                    "email": "ada@example.com",
                    "login": "ada@example.com",
                }
            },
        )
        staged.raise_for_status()
        assert (
            await sync(sandbox, directory, on)
        ).invitations_queued == 0  # STAGED: not active yet
        (
            await okta.post(
                f"/api/v1/users/{staged.json()['id']}/lifecycle/activate",
                params={"sendEmail": "false"},
            )
        ).raise_for_status()
    assert (await sync(sandbox, directory, on)).invitations_queued == 1
    async with smtp_relay(mailbox) as port:
        await deliver_pending(directory.outbox, KEY, on.invitations, smtp_settings(port))
    assert mailbox.recipients() == ["ada@example.com"]
