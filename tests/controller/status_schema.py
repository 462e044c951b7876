"""The CRD's status schema as the apiserver applies it, and the operator's status model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pydantic
import yaml

from okta_hris.resource.spec import API_GROUP, PLURAL
from okta_hris.resource.status import OktaIntegrationStatus

CRD_FILE = Path(__file__).resolve().parents[2] / "crds" / f"{PLURAL}.{API_GROUP}.yaml"


def status_problems(status: Any) -> list[str]:
    """What the apiserver (the CRD's schema) and the operator's own status model say is wrong
    with a status; empty when it is valid."""
    problems = [
        f"{'.'.join(str(p) for p in error.absolute_path) or 'status'}: {error.message}"
        for error in STATUS_SCHEMA.iter_errors(status)
    ]
    try:
        OktaIntegrationStatus.model_validate(status)
    except pydantic.ValidationError as exc:
        problems += [f"model: {line}" for line in str(exc).splitlines()[1:2]]
    return problems


def _status_schema() -> jsonschema.protocols.Validator:
    crd = yaml.safe_load(CRD_FILE.read_text(encoding="utf-8"))
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    validator_class = jsonschema.validators.validator_for(
        schema, default=jsonschema.Draft7Validator
    )
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


STATUS_SCHEMA = _status_schema()
