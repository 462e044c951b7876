"""Manifest files for ``okta-hris sync -f FILE`` and friends, read as ``kubectl apply -f`` does.

A file may hold several YAML documents: the OktaIntegration and the Secrets it references
(``stringData`` or base64 ``data``), so one file works with and without a cluster.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from okta_hris.domain.okta import DEFAULT_OKTA_DOMAINS
from okta_hris.errors import ConfigError, InvalidSpec, SecretNotFound
from okta_hris.resource.spec import (
    API_GROUP,
    GROUP_VERSION,
    KIND,
    OktaIntegration,
    validation_context,
)
from okta_hris.resource.validation import describe_validation_error, describe_value


def _same_namespace(secret: str | None, integration: str | None) -> bool:
    # A Secret without a namespace lands wherever the integration does. An integration without
    # one is "default" for a sync without a cluster (its key is default/<name>), so a Secret
    # named into another namespace is not its Secret: the same file must fail in a cluster too.
    return secret is None or secret == (integration or "default")


@dataclass(frozen=True)
class SecretManifest:
    """A v1 Secret from a manifest file, its values decoded to text."""

    name: str
    namespace: str | None
    # Left out of repr so that logging a SecretManifest never prints a token or password.
    data: Mapping[str, str] = field(repr=False)


@dataclass(frozen=True)
class Manifests:
    """The OktaIntegration of a manifest file and the Secrets found with it."""

    integration: OktaIntegration
    secrets: tuple[SecretManifest, ...]
    source: str = "<input>"

    def secret(self, name: str) -> SecretManifest | None:
        """The Secret ``name`` in the integration's namespace, if the file has it."""
        namespace = self.integration.metadata.namespace
        return next(
            (s for s in self.secrets if s.name == name and _same_namespace(s.namespace, namespace)),
            None,
        )

    def secret_value(self, name: str, key: str) -> str:
        """One value of a Secret in the file; ``SecretNotFound`` names what is missing."""
        secret = self.secret(name)
        if secret is None:
            raise SecretNotFound(
                f"{self.source} has no Secret {name!r} for OktaIntegration "
                f"{self.integration.metadata.name!r}"
            )
        if key not in secret.data:
            keys = ", ".join(sorted(secret.data)) or "none"
            raise SecretNotFound(
                f"Secret {name!r} in {self.source} has no key {key!r} (keys: {keys})"
            )
        return secret.data[key]


class _ManifestLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, as kubectl does, instead of keeping the last."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_ManifestLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _yaml_documents(text: str, source: str) -> list[Any]:
    try:
        return list(yaml.load_all(text, Loader=_ManifestLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        # An unclosed [ or { is only noticed far below it; say where it was opened.
        opened = exc.context_mark
        if exc.problem and exc.context and opened and (not mark or opened.line != mark.line):
            problem += f" ({exc.context} at line {opened.line + 1})"
        raise ConfigError(f"{source}: YAML syntax error{where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {' '.join(str(exc).split())}") from None


def _objects(documents: list[Any], source: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, object) for every Kubernetes object, expanding ``kind: List`` as kubectl does."""
    for number, document in enumerate(documents, start=1):
        label = f"document {number}"
        if document is None:  # an empty document, e.g. after a trailing ---
            continue
        if not isinstance(document, dict):
            raise ConfigError(
                f"{source}: {label} is {describe_value(document)}, not a Kubernetes object "
                "(a mapping with apiVersion and kind)"
            )
        if document.get("apiVersion") == "v1" and document.get("kind") == "List":
            items = document.get("items") or []
            if not isinstance(items, list):
                raise ConfigError(f"{source}: {label} is a List whose items are not a list")
            for index, item in enumerate(items):
                if not isinstance(item, dict):
                    raise ConfigError(f"{source}: {label}, item {index} is not a mapping")
                yield f"{label}, item {index}", item
        else:
            yield label, document


def _secret_from(obj: dict[str, Any], label: str, source: str) -> SecretManifest:
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{source}: {label}: Secret has no metadata.name")
    namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    if namespace is not None and not isinstance(namespace, str):
        raise ConfigError(f"{source}: Secret {name!r}: metadata.namespace must be a string")
    where = f"{source}: Secret {name!r}"
    values: dict[str, str] = {}
    encoded = obj.get("data") or {}
    plain = obj.get("stringData") or {}
    if not isinstance(encoded, dict) or not isinstance(plain, dict):
        raise ConfigError(f"{where}: data and stringData must be mappings")
    # Error messages name keys, never values: these are tokens and passwords.
    for key, value in encoded.items():
        if not isinstance(value, str):
            raise ConfigError(f"{where}: data.{key} must be a base64 string")
        # Kubernetes' decoder skips line breaks: block scalars and 76-column wrapping are fine.
        unwrapped = value.replace("\r", "").replace("\n", "")
        try:
            values[str(key)] = base64.b64decode(unwrapped, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise ConfigError(
                f"{where}: data.{key} is not valid base64 text (use stringData for plain text)"
            ) from None
    for key, value in plain.items():
        if not isinstance(value, str):
            raise ConfigError(f"{where}: stringData.{key} must be a string (quote it in YAML)")
        values[str(key)] = value  # stringData wins over data, as in Kubernetes
    return SecretManifest(name=name, namespace=namespace, data=values)


def _integration_from(
    obj: dict[str, Any], label: str, source: str, allowed_domains: Iterable[str]
) -> OktaIntegration:
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    what = f"OktaIntegration {name!r}" if isinstance(name, str) else f"{label} (OktaIntegration)"
    try:
        return OktaIntegration.model_validate(
            obj, context=validation_context(allowed_domains), by_name=False
        )
    except ValidationError as exc:
        problems = describe_validation_error(exc, OktaIntegration)
        raise InvalidSpec(f"{source}: {what} is invalid: {'; '.join(problems)}") from None


def _kind_problem(obj: dict[str, Any]) -> str | None:
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(kind, str) or not kind:
        return "has no kind"
    if not isinstance(api_version, str) or not api_version:
        return f"({kind}) has no apiVersion"
    if kind == KIND and api_version != GROUP_VERSION:
        return f"has apiVersion {api_version!r}; an OktaIntegration is {GROUP_VERSION}"
    if api_version.split("/")[0] == API_GROUP and kind != KIND:
        return f"has kind {kind!r}; the kind of {GROUP_VERSION} is {KIND}"
    if kind == "Secret" and api_version != "v1":
        return f"has apiVersion {api_version!r}; a Secret is v1"
    return None


def load_manifests(
    text: str,
    name: str | None = None,
    *,
    allowed_domains: Iterable[str] = DEFAULT_OKTA_DOMAINS,
    source: str = "<input>",
) -> Manifests:
    """Read a multi-document YAML file as ``kubectl apply -f`` does.

    Finds the OktaIntegration (``name`` or ``namespace/name`` picks one when there are several)
    and the v1 Secrets. Objects of other kinds are ignored. Raises ``ConfigError`` (for a bad
    spec its subclass ``InvalidSpec``) with one line naming ``source`` and the problem.
    """
    allowed = tuple(allowed_domains)
    integrations: list[OktaIntegration] = []
    secrets: list[SecretManifest] = []
    for label, obj in _objects(_yaml_documents(text, source), source):
        problem = _kind_problem(obj)
        if problem is not None:
            raise ConfigError(f"{source}: {label} {problem}")
        if obj["kind"] == KIND:
            integrations.append(_integration_from(obj, label, source, allowed))
        elif obj["kind"] == "Secret":
            secrets.append(_secret_from(obj, label, source))
    integration = _select(integrations, name, source)
    namespace = integration.metadata.namespace
    usable = [s.name for s in secrets if _same_namespace(s.namespace, namespace)]
    duplicates = sorted({n for n in usable if usable.count(n) > 1})
    if duplicates:
        # kubectl would apply both, the last one winning; a file this ambiguous is a mistake.
        raise ConfigError(f"{source} has more than one Secret named {duplicates[0]!r}")
    return Manifests(integration=integration, secrets=tuple(secrets), source=source)


def _select(integrations: list[OktaIntegration], name: str | None, source: str) -> OktaIntegration:
    found = ", ".join(i.metadata.name for i in integrations)
    if name is not None:
        namespace, _, bare = name.rpartition("/")
        chosen = [
            i
            for i in integrations
            if i.metadata.name == bare and (not namespace or i.metadata.namespace == namespace)
        ]
        if not chosen:
            raise ConfigError(
                f"{source} has no OktaIntegration named {name!r} (found: {found or 'none'})"
            )
        if len(chosen) > 1:
            raise ConfigError(
                f"{source} has several OktaIntegrations named {name!r}; use namespace/name"
            )
        return chosen[0]
    if not integrations:
        raise ConfigError(f"{source} has no OktaIntegration (apiVersion {GROUP_VERSION})")
    if len(integrations) > 1:
        raise ConfigError(
            f"{source} has {len(integrations)} OktaIntegrations ({found}); choose one"
        )
    return integrations[0]


def load_manifest_file(
    path: str | Path,
    name: str | None = None,
    *,
    allowed_domains: Iterable[str] = DEFAULT_OKTA_DOMAINS,
) -> Manifests:
    """``load_manifests`` of a file; an unreadable file is a ``ConfigError`` too."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"cannot read {path}: it is not UTF-8 text") from None
    return load_manifests(text, name, allowed_domains=allowed_domains, source=str(path))
