"""The OktaIntegration spec and status models: defaults, normalisation, helpers, messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import pydantic
import pytest

from okta_hris.errors import ConfigError, InvalidSpec
from okta_hris.resource.spec import (
    InvitationSettings,
    OktaIntegrationSpec,
    OktaSettings,
    SafetySettings,
    SecretKeyRef,
    SecretRef,
    load_spec,
    parse_duration,
)
from okta_hris.resource.status import Condition, LastSyncStatus, OktaIntegrationStatus
from okta_hris.settings import Settings


def spec_data(**sections: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "okta": {"subdomain": "acme", "tokenSecretRef": {"name": "okta-api-token"}}
    }
    data.update(sections)
    return data


FILTERED = {"scope": "Filtered"}


def problem(data: dict[str, Any], allowed_domains: tuple[str, ...] = ()) -> str:
    with pytest.raises(InvalidSpec) as caught:
        load_spec(data, allowed_domains)
    return str(caught.value)


def test_defaults() -> None:
    spec = load_spec(spec_data())
    assert spec.model_dump(mode="json", by_alias=True, exclude_none=True) == {
        "okta": {
            "subdomain": "acme",
            "domain": "okta.com",
            "tokenSecretRef": {"name": "okta-api-token", "key": "token"},
        },
        "sync": {
            "scope": "All",
            "interval": "1h",
            "suspend": False,
            "emailSource": "Work",
            "eventHooks": {"enabled": False, "debounce": "2s"},
        },
        "filters": {
            "countries": {"include": [], "exclude": []},
            "teams": {"include": [], "exclude": []},
            "status": {"include": [], "exclude": []},
            "employment": {"include": [], "exclude": []},
        },
        "mapping": {
            "employmentAttribute": "userType",
            "employmentValues": ["Full-time", "Part-time", "Contractor", "Intern", "Temporary"],
            "teamGroupTypes": ["OKTA_GROUP"],
        },
        "invitations": {"enabled": False},
        "safety": {"maxDeactivations": "20%"},
    }
    assert spec.okta.base_url == "https://acme.okta.com"
    assert spec.sync.interval_timedelta == timedelta(hours=1)


def test_python_code_builds_specs_by_field_name() -> None:
    spec = OktaIntegrationSpec(
        okta=OktaSettings(subdomain="acme", token_secret_ref=SecretKeyRef(name="okta-api-token")),
        invitations=InvitationSettings(
            enabled=True,
            dashboard_url="https://dashboard.example.com",
            from_="People Ops <people-ops@example.com>",
            smtp_secret_ref=SecretRef(name="smtp"),
        ),
    )
    assert spec.invitations.model_dump(by_alias=True)["from"] == (
        "People Ops <people-ops@example.com>"
    )
    with pytest.raises(pydantic.ValidationError):
        spec.sync.suspend = True  # type: ignore[misc]


def test_any_mapping_and_sequence_will_do() -> None:
    # The operator passes Kopf's read-only mapping views, not dicts.
    data = MappingProxyType(
        {
            "okta": MappingProxyType({"subdomain": "acme", "tokenSecretRef": {"name": "t"}}),
            "sync": MappingProxyType({"scope": "Filtered"}),
            "filters": {"teams": {"include": ("Engineering",)}},
        }
    )
    assert load_spec(data).filters.teams.include == ["Engineering"]


def test_normalisation() -> None:
    spec = load_spec(
        spec_data(
            okta={
                "subdomain": "ACME",
                "domain": "OktaPreview.com",
                "tokenSecretRef": {"name": "t"},
            },
            sync={"scope": "Filtered"},
            filters={"countries": {"include": ["us", "De"], "exclude": ["gb"]}},
            mapping={"teamGroupTypes": ["OKTA_GROUP", "APP_GROUP", "OKTA_GROUP"]},
            safety={"maxDeactivations": 25},
        )
    )
    assert spec.okta.base_url == "https://acme.oktapreview.com"
    assert spec.filters.countries.include == ["US", "DE"]
    assert spec.filters.countries.exclude == ["GB"]
    assert spec.mapping.team_group_types == ["APP_GROUP", "OKTA_GROUP"]
    assert spec.safety.max_deactivations == "25"


def test_the_operator_can_allow_more_domains() -> None:
    settings = Settings.from_env({"HRIS_ALLOWED_DOMAINS": "Login.Example.com, "})
    data = spec_data(
        okta={"subdomain": "id", "domain": "LOGIN.example.com", "tokenSecretRef": {"name": "t"}}
    )
    assert load_spec(data, settings.allowed_domains).okta.base_url == "https://id.login.example.com"
    # The defaults stay allowed when only the extra domains are passed.
    assert load_spec(spec_data(), ["login.example.com"]).okta.domain == "okta.com"
    message = problem(data)
    assert "spec.okta.domain: 'LOGIN.example.com' is not an allowed Okta domain" in message
    assert "okta.com, oktapreview.com, okta-emea.com" in message
    assert "HRIS_ALLOWED_DOMAINS" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("1h", timedelta(hours=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("90s", timedelta(seconds=90)),
        ("2h0m5s", timedelta(hours=2, seconds=5)),
        ("36h", timedelta(hours=36)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


# "\u0661h": an Arabic-Indic digit, which Python's \d would match but Go's RE2 [0-9] does not.
@pytest.mark.parametrize(
    "text", ["", "1", "1d", "1.5h", "30m1h", " 1h", "1h\n", "1H", "\u0661h", "-1h"]
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration like 30m, 1h or 1h30m"):
        parse_duration(text)


def test_absurd_interval_is_an_error_not_a_crash() -> None:
    message = problem(spec_data(sync={"interval": "99999999999999h"}))
    assert "spec.sync.interval: '99999999999999h' is too long a duration" in message


@pytest.mark.parametrize(
    ("setting", "directory_size", "limit"),
    [
        ("20%", 1000, 200),
        ("20%", 9, 1),
        ("0%", 500, 0),
        ("100%", 7, 7),
        ("25", 10, 25),
        ("0", 99, 0),
    ],
)
def test_safety_limit(setting: str, directory_size: int, limit: int) -> None:
    assert SafetySettings(max_deactivations=setting).limit(directory_size) == limit


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("Germany", "did you mean DE?"),
        ("germany", "did you mean DE?"),
        ("DEU", "did you mean DE?"),
        ("United States", "did you mean US?"),
        ("UK", "did you mean GB?"),
        ("England", "did you mean GB?"),
    ],
)
def test_country_names_get_a_suggestion(value: str, hint: str) -> None:
    message = problem(spec_data(filters={"countries": {"include": ["US", value]}}))
    assert message == (
        f"spec.filters.countries.include[1]: {value!r} is not an ISO 3166-1 alpha-2 country "
        f"code; {hint}"
    )


def test_unknown_country_has_no_suggestion() -> None:
    message = problem(spec_data(filters={"countries": {"include": ["Atlantis"]}}))
    assert message.endswith("'Atlantis' is not an ISO 3166-1 alpha-2 country code")


def test_subdomain_given_as_a_url_gets_a_suggestion() -> None:
    okta = {"subdomain": "https://Acme.okta-emea.com/", "tokenSecretRef": {"name": "t"}}
    assert problem(spec_data(okta=okta)).endswith(
        "did you mean subdomain: acme and domain: okta-emea.com?"
    )


def test_every_problem_on_one_line() -> None:
    message = problem(
        spec_data(
            sync={"scope": "Everything", "interval": "30s", "suspend": "yes"},
            filters={"countries": {"include": ["Germany"]}},
            invitations={"enabled": True},
        )
    )
    assert message.split("; spec.") == [
        "spec.sync.scope: must be 'All' or 'Filtered', not 'Everything'",
        "sync.interval: '30s' is shorter than the minimum of 1m",
        "sync.suspend: must be true or false, not 'yes'",
        "filters.countries.include[0]: 'Germany' is not an ISO 3166-1 alpha-2 country code; "
        "did you mean DE?",
        "invitations: enabled is true but dashboardUrl, from, smtpSecretRef not set",
    ]
    assert "\n" not in message
    assert "pydantic" not in message
    assert "Value error" not in message


def test_invalid_spec_is_a_config_error_with_the_invalid_spec_reason() -> None:
    with pytest.raises(ConfigError) as caught:
        load_spec(spec_data(sync={"scope": "Some"}))
    assert caught.value.reason == "InvalidSpec"
    assert caught.value.permanent


@pytest.mark.parametrize("data", [None, "acme", ["okta"]])
def test_spec_that_is_not_a_mapping(data: Any) -> None:
    with pytest.raises(InvalidSpec, match=r"^spec: must be a mapping, not "):
        load_spec(data)


def test_complete_invitations() -> None:
    spec = load_spec(
        spec_data(
            invitations={
                "enabled": True,
                "dashboardUrl": "https://dashboard.example.com",
                "from": "people-ops@example.com",
                "smtpSecretRef": {"name": "smtp"},
            }
        )
    )
    assert spec.invitations.enabled
    assert spec.invitations.smtp_secret_ref == SecretRef(name="smtp")


@pytest.mark.parametrize(
    "filters",
    [
        {"teams": {"include": ["Engineering"]}},
        {"teams": {"exclude": ["Interns"]}},
        {"countries": {"include": ["US"]}},
        {"status": {"exclude": ["Inactive"]}},
        {"employment": {"include": ["Full-time"]}},
    ],
)
@pytest.mark.parametrize("sync", [{}, {"scope": "All"}])
def test_filters_under_scope_all_are_refused(sync: dict[str, str], filters: dict[str, Any]) -> None:
    # Filters would be ignored without a word: SPEC §9.
    message = problem(spec_data(sync=sync, filters=filters))
    assert "filters are set but spec.sync.scope is All" in message
    assert load_spec(spec_data(sync=FILTERED, filters=filters)).filters.is_set


def test_empty_filters_under_scope_all_are_fine() -> None:
    empty = {"teams": {"include": []}, "countries": {}, "employment": {"exclude": []}}
    assert not load_spec(spec_data(filters=empty)).filters.is_set


def test_team_entries_are_names_or_group_ids() -> None:
    teams = {"include": ["  Engineering ", "ID:00g1abc", "id: 00g2def "], "exclude": ["id:x9"]}
    spec = load_spec(spec_data(sync=FILTERED, filters={"teams": teams}))
    assert spec.filters.teams.include == ["Engineering", "id:00g1abc", "id:00g2def"]
    assert spec.filters.teams.exclude == ["id:x9"]
    message = problem(spec_data(sync=FILTERED, filters={"teams": {"include": ["id:"]}}))
    assert "spec.filters.teams.include[0]: 'id:' is not id:<Okta group id>" in message


def test_company_name_and_employment_values() -> None:
    spec = load_spec(
        spec_data(
            invitations={"companyName": " Acme & Söhne "},
            mapping={"employmentValues": [" Full-time", "Working student "]},
        )
    )
    assert spec.invitations.company_name == "Acme & Söhne"
    assert spec.mapping.employment_values == ["Full-time", "Working student"]
    assert "is not a company name" in problem(spec_data(invitations={"companyName": "A\nB"}))


def test_sync_hash_covers_what_decides_the_rows() -> None:
    base = load_spec(spec_data()).sync_hash()
    same = [
        spec_data(sync={"interval": "5m", "suspend": True}),
        spec_data(okta={"subdomain": "ACME", "tokenSecretRef": {"name": "other", "key": "k"}}),
        spec_data(safety={"maxDeactivations": 3}),
        spec_data(invitations={"dashboardUrl": "https://x.example.com"}),
        spec_data(mapping={"teamGroupTypes": ["OKTA_GROUP", "OKTA_GROUP"]}),
    ]
    different = [
        spec_data(sync={"scope": "Filtered"}),
        spec_data(sync={"emailSource": "Personal"}),
        spec_data(okta={"subdomain": "other", "tokenSecretRef": {"name": "okta-api-token"}}),
        spec_data(sync={"scope": "Filtered"}, filters={"countries": {"include": ["US"]}}),
        spec_data(sync={"scope": "Filtered"}, filters={"teams": {"exclude": ["Interns"]}}),
        spec_data(mapping={"employmentAttribute": "employeeType"}),
        spec_data(mapping={"employmentValues": ["Full-time", "Working student"]}),
        spec_data(mapping={"teamGroupTypes": ["APP_GROUP"]}),
    ]
    assert [load_spec(d).sync_hash() for d in same] == [base] * len(same)
    assert base not in {load_spec(d).sync_hash() for d in different}
    country_a = spec_data(sync=FILTERED, filters={"countries": {"include": ["us", "DE"]}})
    country_b = spec_data(sync=FILTERED, filters={"countries": {"include": ["US", "de"]}})
    assert load_spec(country_a).sync_hash() == load_spec(country_b).sync_hash()


# --- status ---------------------------------------------------------------------------------


def test_status_dump_has_the_spec_shape() -> None:
    transition = datetime(2026, 11, 28, 13, 0, 4, 123456, tzinfo=timezone(timedelta(hours=1)))
    status = OktaIntegrationStatus(
        observed_generation=4,
        conditions=[
            Condition(
                type="Ready",
                status="True",
                reason="SyncSucceeded",
                message="412 employees, 37 teams",
                last_transition_time=transition,
            ),
            Condition(
                type="Reconciling", status="False", reason="Idle", last_transition_time=transition
            ),
        ],
        last_sync_time=transition,
        last_sync_mode="Incremental",
        last_sync_duration_seconds=3.2,
        last_handled_resync_at="1764331200",
        last_sync=LastSyncStatus(
            fetched=5, matched=4, created=1, updated=1, deactivated=0, unchanged=2, api_requests=3
        ),
        teams=37,
    )
    assert status.model_dump(mode="json", by_alias=True, exclude_none=True) == {
        "observedGeneration": 4,
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "SyncSucceeded",
                "message": "412 employees, 37 teams",
                "lastTransitionTime": "2026-11-28T12:00:04Z",
            },
            {
                "type": "Reconciling",
                "status": "False",
                "reason": "Idle",
                "message": "",
                "lastTransitionTime": "2026-11-28T12:00:04Z",
            },
        ],
        "lastSyncTime": "2026-11-28T12:00:04Z",
        "lastSyncMode": "Incremental",
        "lastSyncDurationSeconds": 3.2,
        "lastHandledResyncAt": "1764331200",
        "lastSync": {
            "fetched": 5,
            "matched": 4,
            "created": 1,
            "updated": 1,
            "deactivated": 0,
            "unchanged": 2,
            "skipped": 0,  # always written: a merge patch must replace an earlier count
            "apiRequests": 3,
        },
        "teams": 37,
    }


def test_status_reads_back_what_the_apiserver_returns() -> None:
    stored = {
        "observedGeneration": 2,
        "conditions": [
            {
                "type": "Stalled",
                "status": "True",
                "reason": "Unauthorized",
                "message": "Okta rejected the API token",
                "lastTransitionTime": "2026-11-28T12:00:04Z",
                "observedGeneration": 2,
            }
        ],
        "employees": {"total": 3, "active": 2, "inactive": 1},
        "fieldOfANewerOperator": {"x": 1},
    }
    status = OktaIntegrationStatus.model_validate(stored)
    stalled = status.condition("Stalled")
    assert stalled is not None
    assert stalled.last_transition_time == datetime(2026, 11, 28, 12, 0, 4, tzinfo=UTC)
    assert status.condition("Ready") is None
    assert status.employees is not None and status.employees.active == 2
    dumped = status.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert dumped == {k: v for k, v in stored.items() if k != "fieldOfANewerOperator"}


def test_status_refuses_times_without_a_zone() -> None:
    with pytest.raises(pydantic.ValidationError):
        Condition(
            type="Ready", status="True", reason="SyncSucceeded", last_transition_time=datetime.now()
        )
