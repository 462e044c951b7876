"""Deterministic fault injection: every kind, every trigger."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from pydantic import ValidationError

from okta_hris.sandbox import Fault, FaultKind, Sandbox

from .sandbox_http import client_for


def statuses(client: httpx.Client, count: int, path: str = "/api/v1/users") -> list[int]:
    return [client.get(path, params={"limit": 1}).status_code for _ in range(count)]


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("401", 401, "E0000011"),
        ("403", 403, "E0000006"),
        ("429", 429, "E0000047"),
        ("500", 500, "E0000009"),
        ("502", 502, "E0000009"),
        ("503", 503, "E0000010"),
        ("504", 504, "E0000009"),
    ],
)
def test_status_faults_answer_like_okta(
    sandbox_factory: Callable[..., Sandbox], kind: str, status: int, code: str
) -> None:
    sandbox = sandbox_factory(users=3, groups=0, faults=[Fault(kind=FaultKind(kind), on_request=2)])
    with client_for(sandbox) as client:
        responses = [client.get("/api/v1/users") for _ in range(3)]
    assert [r.status_code for r in responses] == [200, status, 200]
    failed = responses[1]
    assert failed.json()["errorCode"] == code
    assert failed.headers["x-okta-request-id"] and failed.headers["date"]
    assert failed.headers["x-rate-limit-reset"]
    if kind == "429":
        assert failed.headers["x-rate-limit-remaining"] == "0"
    assert [r.status for r in sandbox.requests] == [200, status, 200]


def test_drop_resets_the_connection(sandbox_factory: Callable[..., Sandbox]) -> None:
    sandbox = sandbox_factory(users=3, groups=0, faults=[Fault(kind=FaultKind.DROP, on_request=2)])
    with client_for(sandbox) as client:
        assert client.get("/api/v1/users").status_code == 200
        with pytest.raises(httpx.TransportError):
            client.get("/api/v1/users")
        assert client.get("/api/v1/users").status_code == 200
    assert [r.status for r in sandbox.requests] == [200, 0, 200]


def test_slow_responses_time_clients_out(sandbox_factory: Callable[..., Sandbox]) -> None:
    sandbox = sandbox_factory(
        users=3, groups=0, faults=[Fault(kind=FaultKind.SLOW, on_request=1, delay=2.0)]
    )
    with client_for(sandbox, timeout=0.3) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.get("/api/v1/users")
        assert client.get("/api/v1/users").status_code == 200


def test_a_slow_response_still_answers(sandbox_factory: Callable[..., Sandbox]) -> None:
    sandbox = sandbox_factory(
        users=3, groups=0, faults=[Fault(kind=FaultKind.SLOW, on_request=1, delay=0.2)]
    )
    with client_for(sandbox) as client:
        assert len(client.get("/api/v1/users").json()) > 0


def test_count_hits_consecutive_requests(sandbox_factory: Callable[..., Sandbox]) -> None:
    sandbox = sandbox_factory(
        users=3, groups=0, faults=[Fault(kind=FaultKind.UNAVAILABLE, on_request=2, count=3)]
    )
    with client_for(sandbox) as client:
        assert statuses(client, 6) == [200, 503, 503, 503, 200, 200]


def test_path_prefix_counts_only_matching_requests(sandbox_factory: Callable[..., Sandbox]) -> None:
    fault = Fault(kind=FaultKind.SERVER_ERROR, on_request=2, path_prefix="/api/v1/groups")
    sandbox = sandbox_factory(users=3, groups=1, faults=[fault])
    with client_for(sandbox) as client:
        got = [
            client.get(path).status_code
            for path in ("/api/v1/users", "/api/v1/groups", "/api/v1/users", "/api/v1/groups",
                         "/api/v1/groups")
        ]  # fmt: skip
    assert got == [200, 200, 200, 500, 200]


def test_a_fault_without_trigger_is_an_outage_until_cleared(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    sandbox = sandbox_factory(users=3, groups=0)
    with client_for(sandbox) as client:
        assert statuses(client, 1) == [200]
        sandbox.add_fault(Fault(kind=FaultKind.UNAVAILABLE))
        assert statuses(client, 3) == [503, 503, 503]
        sandbox.clear_faults()
        assert statuses(client, 1) == [200]


def test_faults_added_later_count_from_when_they_are_added(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    sandbox = sandbox_factory(users=3, groups=0)
    with client_for(sandbox) as client:
        statuses(client, 5)
        sandbox.add_fault(Fault(kind=FaultKind.SERVER_ERROR, on_request=2))
        assert statuses(client, 3) == [200, 500, 200]


def failing_requests(sandbox: Sandbox, count: int) -> list[int]:
    with client_for(sandbox) as client:
        return [n for n, status in enumerate(statuses(client, count), 1) if status != 200]


def test_probabilistic_faults_are_deterministic_for_a_seed(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    fault = Fault(kind=FaultKind.SERVER_ERROR, probability=0.3)
    first = failing_requests(sandbox_factory(users=2, groups=0, faults=[fault], fault_seed=42), 40)
    again = failing_requests(sandbox_factory(users=2, groups=0, faults=[fault], fault_seed=42), 40)
    other = failing_requests(sandbox_factory(users=2, groups=0, faults=[fault], fault_seed=43), 40)
    assert first == again
    assert first != other
    assert 4 <= len(first) <= 24  # about 30% of 40


def test_the_first_matching_fault_wins(sandbox_factory: Callable[..., Sandbox]) -> None:
    faults = [
        Fault(kind=FaultKind.SERVER_ERROR, on_request=2),
        Fault(kind=FaultKind.UNAVAILABLE, on_request=2, count=2),
    ]
    sandbox = sandbox_factory(users=2, groups=0, faults=faults)
    with client_for(sandbox) as client:
        assert statuses(client, 4) == [200, 500, 503, 200]
    assert sandbox.faults == faults


def test_parse_the_command_line_form() -> None:
    assert Fault.parse("503,on=5") == Fault(kind=FaultKind.UNAVAILABLE, on_request=5)
    assert Fault.parse("429, on=10, count=3, path=/api/v1/users") == Fault(
        kind=FaultKind.RATE_LIMITED, on_request=10, count=3, path_prefix="/api/v1/users"
    )
    assert Fault.parse("drop,p=0.05") == Fault(kind=FaultKind.DROP, probability=0.05)
    assert Fault.parse("slow,on=2,delay=30").delay == 30
    for bad in ("teapot", "on=3", "500,on=0", "500,p=2", "500,on=1,p=0.5", "500,3"):
        with pytest.raises((ValueError, ValidationError)):
            Fault.parse(bad)
