"""Pin: the plan does not clean profiles itself; every record is cleaned where it is built
(``OktaUserRecord`` holds ``storable_json`` of its profile, domain/profiles.py). A
NUL, a lone surrogate, NaN and deep nesting in a profile, through a Full sync then an
Incremental one (the changed part and the whole state), never reach the mirror raw."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from okta_hris.directory import schema
from okta_hris.directory.store import Directory
from tests.attack16.test_changed_part_hostile_ids import PART, WHOLE, directory, org, sync  # noqa: F401
from tests.sync.hostile_org import HostileOrg, okta_group, okta_user
from tests.sync.test_incremental_changed_part import stale_tallies


def _deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = {"x": value}
    return value


def _walk(value: Any) -> list[str]:
    bad: list[str] = []
    if isinstance(value, str):
        if "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            bad.append(repr(value))
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            bad.append(repr(value))
    elif isinstance(value, list):
        for item in value:
            bad += _walk(item)
    elif isinstance(value, dict):
        for k, v in value.items():
            bad += _walk(k) + _walk(v)
    return bad


def mirror_profiles(db: Directory, integration: str) -> dict[str, Any]:
    users = schema.okta_users
    with db.engine.connect() as connection:
        return {
            okta_id: profile
            for okta_id, profile in connection.execute(
                sa.select(users.c.okta_id, users.c.profile).where(
                    users.c.integration == integration
                )
            )
        }


def test_hostile_profile_values_never_reach_the_mirror_raw(
    org: HostileOrg,  # noqa: F811
    directory: Directory,  # noqa: F811
) -> None:
    hostile = {
        "title": "Chief\x00Officer",
        "department": "Eng\ud800",
        "nick\x00name": "x",
        "score": 1.5,
        "nested": _deep(200),
    }
    org.users = [okta_user("00uAda", **hostile), okta_user("00uBob")]
    org.groups = [okta_group("00gEng", "Eng")]
    org.members = {"00gEng": ["00uAda", "00uBob"]}
    # NaN is not JSON json.dumps writes by default in a str: put it in the body by rewrite
    org.rewrite = lambda body: body.replace("1.5", "NaN")
    for integration in (PART, WHOLE):
        assert sync(org, directory, integration).mode == "Full"
    with org.lock:
        org.users = [okta_user("00uAda", **{**hostile, "city": "Paris\x00"}), okta_user("00uBob")]
    stale_tallies(directory, WHOLE)
    for integration in (PART, WHOLE):
        report = sync(org, directory, integration)
        assert report.mode == "Incremental"
    for integration in (PART, WHOLE):
        profiles = mirror_profiles(directory, integration)
        assert set(profiles) == {"00uAda", "00uBob"}
        for okta_id, profile in profiles.items():
            if isinstance(profile, str):
                profile = json.loads(profile)
            assert _walk(profile) == [], okta_id
    assert mirror_profiles(directory, PART) == mirror_profiles(directory, WHOLE)
