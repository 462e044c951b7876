"""Every write endpoint: Okta's paths, bodies, preconditions, timestamps and System Log events."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from okta_hris.sandbox import Sandbox

from .sandbox_http import OKTA_TIME, client_for, every_user, list_all

Json = dict[str, Any]


def profile_for(name: str, **extra: Any) -> Json:
    login = f"{name.lower()}@example.com"
    return {"firstName": name, "lastName": "Tester", "login": login, "email": login, **extra}


def create(
    client: httpx.Client,
    name: str,
    *,
    activate: bool | None = None,
    password: bool = True,
    **extra: Any,
) -> Json:
    body: Json = {"profile": profile_for(name, **extra)}
    if password:
        body["credentials"] = {"password": {"value": "Sandbox-pass-1"}}
    params = {} if activate is None else {"activate": str(activate).lower()}
    response = client.post("/api/v1/users", params=params, json=body)
    assert response.status_code == 200, response.text
    user: Json = response.json()
    return user


def get_user(client: httpx.Client, user_id: str) -> Json:
    response = client.get(f"/api/v1/users/{user_id}")
    assert response.status_code == 200, response.text
    user: Json = response.json()
    return user


def lifecycle(client: httpx.Client, user_id: str, action: str, **params: str) -> httpx.Response:
    return client.post(f"/api/v1/users/{user_id}/lifecycle/{action}", params=params)


def events(client: httpx.Client, **params: str) -> list[Json]:
    return list_all(client, "/api/v1/logs", {"sortOrder": "DESCENDING", **params})[::-1]


def event_types(client: httpx.Client) -> list[str]:
    return [e["eventType"] for e in events(client)]


def everyone(client: httpx.Client) -> Json:
    group: Json = client.get("/api/v1/groups", params={"filter": 'type eq "BUILT_IN"'}).json()[0]
    return group


def error_code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["errorCode"]


# --- users ---------------------------------------------------------------------------------------


def test_create_staged_user(empty_http: httpx.Client) -> None:
    user = create(empty_http, "Ann", activate=False)
    assert len(user["id"]) == 20 and user["id"].startswith("00u")
    assert user["status"] == "STAGED"
    assert user["activated"] is None and user["statusChanged"] is None
    assert OKTA_TIME.match(user["created"]) and user["lastUpdated"] == user["created"]
    assert user["profile"]["login"] == "ann@example.com"
    assert "activate" in user["_links"]
    assert event_types(empty_http) == ["user.lifecycle.create"]
    # New users join the built-in Everyone group.
    members = list_all(empty_http, f"/api/v1/groups/{everyone(empty_http)['id']}/users")
    assert [m["id"] for m in members] == [user["id"]]


def test_create_and_activate_with_a_password(empty_http: httpx.Client) -> None:
    user = create(empty_http, "Bea", activate=True)
    assert user["status"] == "ACTIVE"
    assert user["activated"] == user["statusChanged"] and OKTA_TIME.match(user["activated"])
    assert user["passwordChanged"] and user["credentials"]["password"] == {}
    assert event_types(empty_http) == ["user.lifecycle.create", "user.lifecycle.activate"]


def test_activate_is_the_default_and_without_a_password_the_user_is_provisioned(
    empty_http: httpx.Client,
) -> None:
    user = create(empty_http, "Cai", password=False)
    assert user["status"] == "PROVISIONED"
    assert user["activated"] is None and user["statusChanged"]
    assert "password" not in user["credentials"]


def test_create_in_groups(empty_http: httpx.Client) -> None:
    group = empty_http.post("/api/v1/groups", json={"profile": {"name": "Sales"}}).json()
    response = empty_http.post(
        "/api/v1/users", json={"profile": profile_for("Dov"), "groupIds": [group["id"]]}
    )
    user = response.json()
    groups = empty_http.get(f"/api/v1/users/{user['id']}/groups").json()
    assert {g["profile"]["name"] for g in groups} == {"Everyone", "Sales"}
    assert "group.user_membership.add" in event_types(empty_http)


@pytest.mark.parametrize(
    ("profile", "field"),
    [
        ({"firstName": "No", "lastName": "Login", "email": "x@example.com"}, "login"),
        ({**profile_for("Eve"), "email": None}, "email"),
        ({**profile_for("Eve"), "lastName": ""}, "lastName"),
        ({**profile_for("Eve"), "favouriteColour": "blue"}, "favouriteColour"),
        ({**profile_for("Eve"), "countryCode": "DEU"}, "countryCode"),
        ({**profile_for("Eve"), "firstName": "x" * 51}, "firstName"),
    ],
)
def test_create_validates_the_profile(empty_http: httpx.Client, profile: Json, field: str) -> None:
    response = empty_http.post("/api/v1/users", json={"profile": profile})
    assert error_code(response) == (400, "E0000001")
    assert response.json()["errorSummary"] == f"Api validation failed: {field}"
    assert response.json()["errorCauses"]
    assert event_types(empty_http) == []


def test_logins_are_unique_ignoring_case(empty_http: httpx.Client) -> None:
    create(empty_http, "Fay")
    response = empty_http.post(
        "/api/v1/users", json={"profile": {**profile_for("Fay"), "login": "FAY@example.com"}}
    )
    assert error_code(response) == (400, "E0000001")
    cause = response.json()["errorCauses"][0]["errorSummary"]
    assert cause == "login: An object with this field already exists in the current organization"


@pytest.mark.parametrize("body", [b"{not json", b"[]", b""])
def test_a_malformed_body_is_e0000003(empty_http: httpx.Client, body: bytes) -> None:
    response = empty_http.post(
        "/api/v1/users", content=body, headers={"Content-Type": "application/json"}
    )
    assert error_code(response) == (400, "E0000003")


def test_get_user_by_id_or_login(empty_http: httpx.Client) -> None:
    user = create(empty_http, "Gus", activate=True)
    by_login = empty_http.get("/api/v1/users/GUS@example.com")
    assert by_login.status_code == 200 and by_login.json()["id"] == user["id"]
    assert error_code(empty_http.get("/api/v1/users/nobody@example.com")) == (404, "E0000007")


def test_partial_update_merges_and_records_the_change(empty_http: httpx.Client) -> None:
    user = create(empty_http, "Hal", activate=True, city="Berlin", title="Engineer")
    response = empty_http.post(
        f"/api/v1/users/{user['id']}", json={"profile": {"city": "München", "title": None}}
    )
    assert response.status_code == 200
    updated = get_user(empty_http, user["id"])
    assert updated["profile"]["city"] == "München"
    assert updated["profile"]["title"] is None
    assert updated["profile"]["firstName"] == "Hal"
    assert updated["lastUpdated"] > user["lastUpdated"]
    assert updated["statusChanged"] == user["statusChanged"]
    event = events(empty_http)[-1]
    assert event["eventType"] == "user.account.update_profile"
    assert event["target"][0]["id"] == user["id"]
    # The change is what an incremental sync finds.
    changed = list_all(
        empty_http, "/api/v1/users", {"search": f'lastUpdated gt "{user["lastUpdated"]}"'}
    )
    assert [u["id"] for u in changed] == [user["id"]]


def test_full_replace_drops_what_is_not_sent(empty_http: httpx.Client) -> None:
    user = create(empty_http, "Ida", activate=True, city="Paris", mobilePhone="+33 6 12 34 56 78")
    response = empty_http.put(
        f"/api/v1/users/{user['id']}", json={"profile": profile_for("Ida", city="Lyon")}
    )
    assert response.status_code == 200
    replaced = get_user(empty_http, user["id"])
    assert replaced["profile"]["city"] == "Lyon"
    assert replaced["profile"]["mobilePhone"] is None  # always returned, null when unset
    incomplete = empty_http.put(f"/api/v1/users/{user['id']}", json={"profile": {"city": "Nice"}})
    assert error_code(incomplete) == (400, "E0000001")


def test_suspend_and_unsuspend(empty_http: httpx.Client) -> None:
    user = create(empty_http, "Jan", activate=True)
    response = lifecycle(empty_http, user["id"], "suspend")
    assert response.status_code == 200
    suspended = get_user(empty_http, user["id"])
    assert suspended["status"] == "SUSPENDED"
    assert suspended["statusChanged"] > user["statusChanged"]
    assert suspended["lastUpdated"] == suspended["statusChanged"]
    assert "unsuspend" in suspended["_links"] and "suspend" not in suspended["_links"]
    assert error_code(lifecycle(empty_http, user["id"], "suspend")) == (400, "E0000001")
    assert lifecycle(empty_http, user["id"], "unsuspend").status_code == 200
    assert get_user(empty_http, user["id"])["status"] == "ACTIVE"
    assert error_code(lifecycle(empty_http, user["id"], "unsuspend")) == (400, "E0000001")
    assert event_types(empty_http)[-2:] == ["user.lifecycle.suspend", "user.lifecycle.unsuspend"]


def test_suspend_and_unsuspend_preconditions_name_the_operation(empty_http: httpx.Client) -> None:
    staged = create(empty_http, "Ida", activate=False)
    for action, operation, cause in (
        ("suspend", "suspendUser", "Cannot suspend a user that is not active"),
        ("unsuspend", "unsuspendUser", "Cannot unsuspend a user that is not suspended"),
    ):
        body = lifecycle(empty_http, staged["id"], action).json()
        assert body["errorCode"] == "E0000001"
        assert body["errorSummary"] == f"Api validation failed: {operation}"
        assert [c["errorSummary"] for c in body["errorCauses"]] == [cause]


def test_unlock(sandbox_factory: Callable[..., Sandbox]) -> None:
    sandbox = sandbox_factory(users=60, groups=0, seed=4)
    with client_for(sandbox) as client:
        locked = list_all(client, "/api/v1/users", {"filter": 'status eq "LOCKED_OUT"'})[0]
        active = list_all(client, "/api/v1/users", {"filter": 'status eq "ACTIVE"'})[0]
        refused = lifecycle(client, active["id"], "unlock")
        assert refused.status_code == 403
        body = refused.json()
        assert body["errorCode"] == "E0000032"
        assert body["errorSummary"] == "Unlock is not allowed for this user."
        assert [c["errorSummary"] for c in body["errorCauses"]] == ["The user is not locked out."]
        assert lifecycle(client, locked["id"], "unlock").status_code == 200
        assert get_user(client, locked["id"])["status"] == "ACTIVE"
        assert event_types(client) == ["user.account.unlock_by_admin"]


def test_user_links_only_advertise_what_the_sandbox_serves(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    sandbox = sandbox_factory(users=60, groups=0, seed=4)
    with client_for(sandbox) as client:
        users = every_user(client)
        by_status = {user["status"]: user["id"] for user in users}
        assert len(by_status) == 8
        for status, user_id in sorted(by_status.items()):
            links = get_user(client, user_id)["_links"]
            assert "self" in links and "resetPassword" not in links, status
            for name, link in links.items():
                if name == "self":
                    assert client.get(link["href"]).status_code == 200
                    continue
                assert link["method"] == "POST", (status, name)
                # Following it may be refused (the user's status has moved on), but the
                # endpoint exists.
                response = client.post(link["href"])
                assert response.status_code != 404, (status, name, response.text)


def test_deactivate_and_activate_again(empty_http: httpx.Client) -> None:
    user = create(empty_http, "Kim", activate=True)
    assert lifecycle(empty_http, user["id"], "deactivate").status_code == 200
    gone = get_user(empty_http, user["id"])
    assert gone["status"] == "DEPROVISIONED" and gone["statusChanged"] > user["statusChanged"]
    assert "password" not in gone["credentials"]
    assert error_code(lifecycle(empty_http, user["id"], "deactivate")) == (403, "E0000038")
    # Deactivated profiles are read-only.
    edit = empty_http.post(f"/api/v1/users/{user['id']}", json={"profile": {"title": "x"}})
    assert error_code(edit) == (403, "E0000038")
    # Deactivation cleared the password, so activating again needs the activation flow.
    activated = lifecycle(empty_http, user["id"], "activate", sendEmail="false")
    assert activated.status_code == 200 and activated.json()["activationToken"]
    assert get_user(empty_http, user["id"])["status"] == "PROVISIONED"
    assert event_types(empty_http)[-2:] == ["user.lifecycle.deactivate", "user.lifecycle.activate"]


def test_activation_preconditions(empty_http: httpx.Client) -> None:
    active = create(empty_http, "Lea", activate=True)
    assert error_code(lifecycle(empty_http, active["id"], "activate")) == (403, "E0000016")
    staged = create(empty_http, "Max", activate=False)
    sent = lifecycle(empty_http, staged["id"], "activate")
    assert sent.status_code == 200 and sent.json() == {}  # sendEmail defaults to true
    assert get_user(empty_http, staged["id"])["status"] == "ACTIVE"
    provisioned = create(empty_http, "Ned", password=False)
    reactivated = lifecycle(empty_http, provisioned["id"], "reactivate")
    assert reactivated.status_code == 200 and reactivated.json()["activationUrl"]
    assert error_code(lifecycle(empty_http, active["id"], "reactivate")) == (403, "E0000038")
    assert error_code(lifecycle(empty_http, active["id"], "unlock")) == (403, "E0000032")
    assert error_code(lifecycle(empty_http, active["id"], "teleport")) == (404, "E0000008")


def test_delete_deactivates_first_and_deletes_second(empty_http: httpx.Client) -> None:
    user = create(empty_http, "Oda", activate=True)
    group = empty_http.post("/api/v1/groups", json={"profile": {"name": "Finance"}}).json()
    empty_http.put(f"/api/v1/groups/{group['id']}/users/{user['id']}")
    before = empty_http.get(f"/api/v1/groups/{group['id']}").json()

    first = empty_http.delete(f"/api/v1/users/{user['id']}")
    assert first.status_code == 204
    assert get_user(empty_http, user["id"])["status"] == "DEPROVISIONED"
    assert event_types(empty_http)[-1] == "user.lifecycle.deactivate"

    second = empty_http.delete(f"/api/v1/users/{user['id']}")
    assert second.status_code == 204
    assert error_code(empty_http.get(f"/api/v1/users/{user['id']}")) == (404, "E0000007")
    deleted = [e for e in events(empty_http) if e["eventType"] == "user.lifecycle.delete.initiated"]
    assert [e["target"][0]["id"] for e in deleted] == [user["id"]]
    after = empty_http.get(f"/api/v1/groups/{group['id']}").json()
    assert after["lastMembershipUpdated"] > before["lastMembershipUpdated"]
    assert list_all(empty_http, f"/api/v1/groups/{group['id']}/users") == []
    # The login is free again.
    assert create(empty_http, "Oda")["id"] != user["id"]


# --- groups --------------------------------------------------------------------------------------


def test_create_group(empty_http: httpx.Client) -> None:
    response = empty_http.post(
        "/api/v1/groups", json={"profile": {"name": "People Ops", "description": "HR"}}
    )
    assert response.status_code == 200
    group = response.json()
    assert group["id"].startswith("00g") and len(group["id"]) == 20
    assert group["type"] == "OKTA_GROUP" and group["profile"]["name"] == "People Ops"
    assert group["created"] == group["lastUpdated"] == group["lastMembershipUpdated"]
    event = events(empty_http)[-1]
    assert event["eventType"] == "group.lifecycle.create"
    assert event["target"] == [
        {
            "id": group["id"],
            "type": "UserGroup",
            "alternateId": "unknown",
            "displayName": "People Ops",
        }
    ]
    duplicate = empty_http.post("/api/v1/groups", json={"profile": {"name": "people ops"}})
    assert error_code(duplicate) == (400, "E0000001")
    nameless = empty_http.post("/api/v1/groups", json={"profile": {"description": "?"}})
    assert error_code(nameless) == (400, "E0000001")


def test_replace_group_profile(empty_http: httpx.Client) -> None:
    group = empty_http.post("/api/v1/groups", json={"profile": {"name": "Sales"}}).json()
    response = empty_http.put(
        f"/api/v1/groups/{group['id']}",
        json={"profile": {"name": "Sales EMEA", "description": "x"}},
    )
    assert response.status_code == 200
    renamed = empty_http.get(f"/api/v1/groups/{group['id']}").json()
    assert renamed["profile"]["name"] == "Sales EMEA"
    assert renamed["lastUpdated"] > group["lastUpdated"]
    assert renamed["lastMembershipUpdated"] == group["lastMembershipUpdated"]


def test_delete_group(empty_http: httpx.Client) -> None:
    user = create(empty_http, "Pia", activate=True)
    group = empty_http.post("/api/v1/groups", json={"profile": {"name": "Design"}}).json()
    empty_http.put(f"/api/v1/groups/{group['id']}/users/{user['id']}")
    assert empty_http.delete(f"/api/v1/groups/{group['id']}").status_code == 204
    assert error_code(empty_http.get(f"/api/v1/groups/{group['id']}")) == (404, "E0000007")
    assert [
        g["profile"]["name"] for g in empty_http.get(f"/api/v1/users/{user['id']}/groups").json()
    ] == ["Everyone"]
    assert event_types(empty_http)[-1] == "group.lifecycle.delete"


def test_built_in_and_app_groups_cannot_be_changed(http: httpx.Client) -> None:
    groups = http.get("/api/v1/groups").json()
    user_id = http.get("/api/v1/users", params={"limit": 1}).json()[0]["id"]
    for group in (g for g in groups if g["type"] in ("BUILT_IN", "APP_GROUP")):
        assert error_code(http.delete(f"/api/v1/groups/{group['id']}")) == (403, "E0000006")
        membership = f"/api/v1/groups/{group['id']}/users/{user_id}"
        assert error_code(http.put(membership)) == (403, "E0000006")
        assert error_code(http.delete(membership)) == (403, "E0000006")


def test_add_and_remove_members(empty_http: httpx.Client) -> None:
    user = create(empty_http, "Quinn", activate=True)
    group = empty_http.post("/api/v1/groups", json={"profile": {"name": "Support"}}).json()
    path = f"/api/v1/groups/{group['id']}/users/{user['id']}"

    added = empty_http.put(path)
    assert added.status_code == 204 and added.content == b""
    after_add = empty_http.get(f"/api/v1/groups/{group['id']}").json()
    assert after_add["lastMembershipUpdated"] > group["lastMembershipUpdated"]
    assert after_add["lastUpdated"] == group["lastUpdated"]
    assert [u["id"] for u in list_all(empty_http, f"/api/v1/groups/{group['id']}/users")] == [
        user["id"]
    ]
    add_event = events(empty_http)[-1]
    assert add_event["eventType"] == "group.user_membership.add"
    assert [t["type"] for t in add_event["target"]] == ["User", "UserGroup"]
    assert add_event["target"][0]["alternateId"] == "quinn@example.com"
    assert add_event["target"][0]["displayName"] == "Quinn Tester"
    # Adding again changes nothing and writes nothing.
    assert empty_http.put(path).status_code == 204
    assert event_types(empty_http).count("group.user_membership.add") == 1

    assert empty_http.delete(path).status_code == 204
    assert list_all(empty_http, f"/api/v1/groups/{group['id']}/users") == []
    assert event_types(empty_http)[-1] == "group.user_membership.remove"
    # Membership changes leave the user's own lastUpdated alone.
    assert get_user(empty_http, user["id"])["lastUpdated"] == user["lastUpdated"]


def test_membership_of_unknown_users_and_groups(empty_http: httpx.Client) -> None:
    user = create(empty_http, "Rui")
    group = empty_http.post("/api/v1/groups", json={"profile": {"name": "Data"}}).json()
    missing_user = empty_http.put(f"/api/v1/groups/{group['id']}/users/00unothere0000000000")
    missing_group = empty_http.put(f"/api/v1/groups/00gnothere0000000000/users/{user['id']}")
    assert error_code(missing_user) == (404, "E0000007")
    assert error_code(missing_group) == (404, "E0000007")


def test_log_events_have_okta_shape(empty_http: httpx.Client, empty_sandbox: Any) -> None:
    create(empty_http, "Sam", activate=True)
    for event in events(empty_http):
        uuid.UUID(event["uuid"])
        assert OKTA_TIME.match(event["published"])
        assert event["severity"] == "INFO"
        assert event["outcome"] == {"result": "SUCCESS"}
        assert event["actor"]["type"] == "User" and event["actor"]["id"].startswith("00u")
        assert event["displayMessage"] and event["legacyEventType"]
        assert event["version"] == "0"
        assert set(event["target"][0]) == {"id", "type", "alternateId", "displayName"}
        assert event["client"]["ipAddress"] == "127.0.0.1"
        assert event["debugContext"]["debugData"]["requestUri"].startswith("/api/v1/users")
    request_ids = [r.headers["x-okta-request-id"] for r in [empty_http.get("/api/v1/logs")]]
    assert request_ids[0]
