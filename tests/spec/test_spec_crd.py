"""The CRD in crds/ and the pydantic models agree: same file, same verdicts, same defaults.

The apiserver is emulated with jsonschema: ``nullable`` becomes a null alternative, objects with
``properties`` get ``additionalProperties: false`` (kubectl's default strict field validation
rejects unknown fields), and defaults are applied as the apiserver's structural defaulting does.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import pytest
import yaml
from pydantic import BaseModel

from okta_hris.cli.manifests import load_manifests
from okta_hris.crd import UnsupportedSchema, main, model_schema, render_crd
from okta_hris.errors import InvalidSpec
from okta_hris.resource.spec import load_spec
from okta_hris.resource.status import (
    Condition,
    DataQualityStatus,
    EmployeesStatus,
    EventHooksStatus,
    HandledApproval,
    InvitationsStatus,
    LastSyncStatus,
    OktaIntegrationStatus,
)

REPO = Path(__file__).resolve().parents[2]
CRD_FILE = REPO / "crds" / "oktaintegrations.hris.dev.yaml"
MANIFESTS = Path(__file__).parent / "manifests"
EXAMPLES = REPO / "examples"


@functools.cache
def crd() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(CRD_FILE.read_text(encoding="utf-8"))
    return loaded


def object_schema() -> dict[str, Any]:
    schema: dict[str, Any] = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def to_json_schema(node: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI v3 CRD schema node as a draft-4 JSON schema that judges as the apiserver does."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: to_json_schema(child) for name, child in value.items()}
        elif key == "items":
            out[key] = to_json_schema(value)
        elif key == "anyOf":
            out[key] = [to_json_schema(member) for member in value]
        elif key == "pattern":
            # Go's $ matches only at the end of the text; Python's also before a final newline.
            out[key] = value[:-1] + r"\Z" if value.endswith("$") else value
        elif key in ("nullable", "default", "description") or key.startswith("x-kubernetes-"):
            continue
        else:
            out[key] = value
    if "properties" in node:
        out["additionalProperties"] = False
    if node.get("nullable"):
        return {"anyOf": [{"type": "null"}, out]}
    return out


def crd_errors(obj: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft4Validator(to_json_schema(object_schema()))
    errors = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)
    ]
    if errors:
        return errors
    # The apiserver evaluates x-kubernetes-validations (CEL) on the defaulted object.
    defaulted = apply_defaults(copy.deepcopy(obj), object_schema())
    return cel_errors(defaulted, object_schema())


@functools.cache
def _cel_program(rule: str) -> Any:
    environment = celpy.Environment()
    return environment.program(environment.compile(rule))


def cel_errors(value: Any, node: dict[str, Any], path: str = "") -> list[str]:
    errors = [
        f"{path or '.'}: {check['message']}"
        for check in node.get("x-kubernetes-validations", [])
        if not _cel_program(check["rule"]).evaluate({"self": celpy.json_to_cel(value)})
    ]
    if isinstance(value, dict):
        for name, child in node.get("properties", {}).items():
            if name in value:
                errors += cel_errors(value[name], child, f"{path}.{name}")
    elif isinstance(value, list) and "items" in node:
        for index, item in enumerate(value):
            errors += cel_errors(item, node["items"], f"{path}[{index}]")
    return errors


def apply_defaults(value: Any, node: dict[str, Any]) -> Any:
    """The apiserver's structural defaulting: absent fields get their default, then recurse."""
    if isinstance(value, dict):
        properties = node.get("properties", {})
        for name, child in properties.items():
            if name not in value and "default" in child:
                value[name] = copy.deepcopy(child["default"])
        for name, child_value in value.items():
            if name in properties:
                apply_defaults(child_value, properties[name])
    elif isinstance(value, list) and "items" in node:
        for item in value:
            apply_defaults(item, node["items"])
    return value


def walk(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path or ".", node
    for name, child in node.get("properties", {}).items():
        yield from walk(child, f"{path}.{name}")
    if "items" in node:
        yield from walk(node["items"], f"{path}[]")


def without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_none(v) for v in value]
    return value


def key_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: key_tree(v) for k, v in value.items()}
    return None


# --- the committed file ---------------------------------------------------------------------


def test_committed_crd_is_the_generated_one() -> None:
    assert CRD_FILE.read_text(encoding="utf-8") == render_crd(), (
        "crds/oktaintegrations.hris.dev.yaml is stale: run `make crd`"
    )


def test_python_m_okta_hris_crd_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    main([])
    assert capsys.readouterr().out == render_crd()


def test_constructs_a_crd_cannot_express_fail_at_generation() -> None:
    class Ambiguous(BaseModel):
        value: int | str

    with pytest.raises(UnsupportedSchema, match=r"\.value: anyOf of several types"):
        model_schema(Ambiguous)


def test_crd_names_scope_version_and_status_subresource() -> None:
    definition = crd()
    assert definition["apiVersion"] == "apiextensions.k8s.io/v1"
    assert definition["metadata"]["name"] == "oktaintegrations.hris.dev"
    spec = definition["spec"]
    assert spec["group"] == "hris.dev"
    assert spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "kind": "OktaIntegration",
        "listKind": "OktaIntegrationList",
        "plural": "oktaintegrations",
        "singular": "oktaintegration",
        "shortNames": ["okta"],
        "categories": ["hris"],
    }
    [version] = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}


def test_printer_columns() -> None:
    columns = crd()["spec"]["versions"][0]["additionalPrinterColumns"]
    default = [(c["name"], c["type"], c["jsonPath"]) for c in columns if not c.get("priority")]
    assert default == [
        ("Ready", "string", '.status.conditions[?(@.type=="Ready")].status'),
        ("Reason", "string", '.status.conditions[?(@.type=="Ready")].reason'),
        ("Employees", "integer", ".status.employees.active"),
        ("Last Sync", "date", ".status.lastSyncTime"),
        ("Age", "date", ".metadata.creationTimestamp"),
    ]


def test_printer_columns_point_at_fields_of_the_right_type() -> None:
    schema = object_schema()
    expected_types = {"string": "string", "integer": "integer", "date": "string"}
    for column in crd()["spec"]["versions"][0]["additionalPrinterColumns"]:
        if column["jsonPath"].startswith(".metadata."):
            continue
        node = schema
        path = re.sub(r"\[\?\(@\.[^)]*\)\]", "[]", column["jsonPath"])
        for part in path.strip(".").split("."):
            is_list = part.endswith("[]")
            node = node["properties"][part.removesuffix("[]")]
            if is_list:
                node = node["items"]
        assert node["type"] == expected_types[column["type"]], column
        if column["type"] == "date":
            assert node.get("format") == "date-time", column


# --- structural schema ----------------------------------------------------------------------

# Keywords a CRD schema may not use (apiextensions validation and structural schema rules).
FORBIDDEN = {
    "$ref",
    "$defs",
    "$schema",
    "definitions",
    "id",
    "allOf",
    "oneOf",
    "not",
    "const",
    "additionalItems",
    "patternProperties",
    "dependencies",
    "readOnly",
    "writeOnly",
    "xml",
    "discriminator",
    "prefixItems",
    "title",
}


def test_schema_is_structural() -> None:
    for path, node in walk(object_schema()):
        assert not FORBIDDEN & node.keys(), f"{path}: {FORBIDDEN & node.keys()}"
        int_or_string = node.get("x-kubernetes-int-or-string") is True
        assert (
            "type" in node or int_or_string or node.get("x-kubernetes-preserve-unknown-fields")
        ), f"{path} has no type"
        if "anyOf" in node:
            assert int_or_string and "type" not in node, path
            assert node["anyOf"] == [{"type": "integer"}, {"type": "string"}], path
        assert not ("properties" in node and "additionalProperties" in node), path
        assert node.get("additionalProperties") is not False, path
        assert node.get("uniqueItems") is not True, path
        if node.get("type") == "array":
            assert "items" in node, path
        if node.get("type") == "object":
            assert set(node.get("required", [])) <= set(node.get("properties", {})), path
        if node.get("x-kubernetes-list-type") == "map":
            item = node["items"]
            for key in node["x-kubernetes-list-map-keys"]:
                assert key in item.get("required", []) or "default" in item["properties"][key]


def test_every_field_is_described() -> None:
    # kubectl explain shows these; metadata, apiVersion and kind are Kubernetes' own.
    for path, node in walk(object_schema()):
        if path.startswith(".metadata") or path.endswith("[]"):
            continue
        assert node.get("description"), f"{path} has no description"


def test_defaults_are_valid_for_their_own_schema() -> None:
    # The apiserver refuses a CRD whose defaults do not validate.
    for path, node in walk(object_schema()):
        if "default" in node:
            validator = jsonschema.Draft4Validator(to_json_schema(node))
            assert not list(validator.iter_errors(node["default"])), path


# --- the CRD and the model judge manifests alike --------------------------------------------


def _integration_docs(path: Path) -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return [d for d in docs if d.get("kind") == "OktaIntegration"]


def case_id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


VALID = sorted((MANIFESTS / "valid").glob("*.yaml"))
INVALID = sorted((MANIFESTS / "invalid").glob("*.yaml"))
EXAMPLE_INTEGRATIONS = [p for p in sorted(EXAMPLES.glob("*.yaml")) if _integration_docs(p)]


def test_the_corpus_is_there() -> None:
    assert len(VALID) >= 10
    assert len(INVALID) >= 40
    assert len(EXAMPLE_INTEGRATIONS) >= 2


@pytest.mark.parametrize("path", VALID + EXAMPLE_INTEGRATIONS, ids=case_id)
def test_valid_manifests_pass_both(path: Path) -> None:
    load_manifests(path.read_text(encoding="utf-8"), source=path.name)
    [obj] = _integration_docs(path)
    assert crd_errors(obj) == []


@pytest.mark.parametrize("path", INVALID, ids=case_id)
def test_invalid_manifests_are_rejected(path: Path) -> None:
    """Header ``# model: <message>``; ``# crd: rejects`` or ``# crd: accepts (<why only the
    model can tell>)``."""
    text = path.read_text(encoding="utf-8")
    header = dict(re.findall(r"^# (model|crd): (.*)$", text, flags=re.MULTILINE))
    with pytest.raises(InvalidSpec) as caught:
        load_manifests(text, source=path.name)
    assert header["model"] in str(caught.value)
    [obj] = _integration_docs(path)
    verdict = "rejects" if crd_errors(obj) else "accepts"
    assert header["crd"].split()[0] == verdict, crd_errors(obj)


@pytest.mark.parametrize("path", VALID + EXAMPLE_INTEGRATIONS, ids=case_id)
def test_crd_defaults_are_the_model_defaults(path: Path) -> None:
    [obj] = _integration_docs(path)
    spec_schema = object_schema()["properties"]["spec"]
    defaulted = apply_defaults(copy.deepcopy(obj["spec"]), spec_schema)
    model = load_spec(obj["spec"])
    # Defaulting changes nothing the model would not have assumed anyway...
    assert load_spec(defaulted) == model
    # ...and fills in every field the model fills in.
    dumped = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert key_tree(without_none(defaulted)) == key_tree(dumped)


def test_crd_defaults_of_a_minimal_spec_equal_the_model_dump() -> None:
    spec = {"okta": {"subdomain": "acme", "tokenSecretRef": {"name": "okta-api-token"}}}
    defaulted = apply_defaults(copy.deepcopy(spec), object_schema()["properties"]["spec"])
    assert defaulted == load_spec(spec).model_dump(mode="json", by_alias=True, exclude_none=True)


# --- status ---------------------------------------------------------------------------------

NOW = datetime(2026, 11, 28, 12, 0, 4, tzinfo=UTC)


def full_status() -> OktaIntegrationStatus:
    return OktaIntegrationStatus(
        observed_generation=4,
        conditions=[
            Condition(
                type="Ready",
                status="True",
                reason="SyncSucceeded",
                message="412 employees, 37 teams",
                last_transition_time=NOW,
                observed_generation=4,
            ),
            Condition(type="Stalled", status="False", reason="Healthy", last_transition_time=NOW),
        ],
        last_sync_time=NOW,
        last_successful_sync_time=NOW,
        next_sync_time=NOW,
        last_sync_mode="Full",
        last_sync_duration_seconds=3.2,
        last_handled_resync_at="1764331200",
        last_sync=LastSyncStatus(
            fetched=500,
            matched=412,
            created=3,
            updated=5,
            deactivated=1,
            unchanged=403,
            api_requests=9,
        ),
        employees=EmployeesStatus(total=430, active=412, inactive=18),
        teams=37,
        data_quality=DataQualityStatus(
            invalid_phones=2, unknown_countries=1, incomplete_addresses=4
        ),
        invitations=InvitationsStatus(sent=3, pending=0, failed=0),
        event_hooks=EventHooksStatus(received=1042, applied=1040, last_event_time=NOW),
        held_deactivations=12,
        last_handled_invite_all_pending="2026-11-28T12:00:00Z",
        last_handled_approval=HandledApproval(
            value="12", deactivations=12, result="Released", time=NOW
        ),
    )


def manifest_with_status(status: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "hris.dev/v1alpha1",
        "kind": "OktaIntegration",
        "metadata": {"name": "acme"},
        "spec": {"okta": {"subdomain": "acme", "tokenSecretRef": {"name": "t"}}},
        "status": status,
    }


def test_status_dump_is_valid_for_the_crd() -> None:
    status = full_status().model_dump(mode="json", by_alias=True, exclude_none=True)
    assert crd_errors(manifest_with_status(status)) == []
    assert set(status) == set(object_schema()["properties"]["status"]["properties"])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lastSyncMode": "Partial"}, "lastSyncMode"),
        ({"teams": -1}, "teams"),
        ({"employees": {"total": 1, "active": 1}}, "employees.inactive"),
        ({"conditions": [{"type": "Ready", "status": "Yes", "reason": "X", "message": ""}]}, ""),
        ({"conditions": [{"type": "Ready", "status": "True", "reason": "Not CamelCase"}]}, ""),
    ],
)
def test_bad_status_is_rejected_by_both(change: dict[str, Any], field: str) -> None:
    status = full_status().model_dump(mode="json", by_alias=True, exclude_none=True)
    status.update(change)
    assert crd_errors(manifest_with_status(status)), field
    with pytest.raises(ValueError):
        OktaIntegrationStatus.model_validate(status)
