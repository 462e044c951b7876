"""Manifest files for ``okta-hris sync -f FILE`` and friends, read as ``kubectl apply -f`` does.

A file may hold several YAML documents: the OktaIntegration and the Secrets it references
(``stringData`` or base64 ``data``), so one file works with and without a cluster.

A manifest is user input, and may be hostile: every problem with it is one ``ConfigError``
line, never a traceback, a hang or a process that fills its memory. Files are read to a bound,
YAML is nested and expanded (aliases included: a "billion laughs") to a bound, and integers
have a bounded number of digits.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
import sys
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
from okta_hris.resource.validation import describe_validation_error, describe_value, printable

# A manifest is a few kilobytes; Kubernetes itself refuses objects over 1.5 MiB (etcd's limit).
MANIFEST_LIMIT_BYTES = 4 * 1024 * 1024
# A token or a database URL given in a file (--token-file, --database-url-file).
SECRET_FILE_LIMIT_BYTES = 64 * 1024
# Far more than any OktaIntegration with its Secrets needs, far less than would slow us down.
MAX_YAML_DEPTH = 64
MAX_YAML_VALUES = 100_000
# Kubernetes' integers are 64-bit (19 digits); Python refuses to read more than 4,300 digits.
MAX_INTEGER_CHARACTERS = 64


def read_text_file(path: str | Path, *, limit: int, what: str = "") -> str:
    """The UTF-8 text of a file named on the command line, read to at most ``limit`` bytes.

    A regular file, a pipe (``--token-file <(pass show okta)``) or a device: ``/dev/zero`` and
    a FIFO nobody writes to must neither hang the command nor fill its memory. ``what`` names
    the option in messages (``--token-file``). Every failure is one ``ConfigError`` line.
    """
    where = f"{what} {path}" if what else str(path)
    try:
        # Opening a FIFO that has no writer blocks for ever; non-blocking, it opens at once.
        # Reads block again afterwards, and with no writer they answer end-of-file.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ConfigError(f"cannot read {where}: {exc.strerror or exc}") from None
    try:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise ConfigError(f"cannot read {where}: Is a directory")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as stream:
            data = stream.read(limit + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {where}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    return _text(data, limit, where)


def _text(data: bytes, limit: int, where: str) -> str:
    if len(data) > limit:
        size = f"{limit // 2**20} MiB" if limit >= 2**20 else f"{limit // 2**10} KiB"
        raise ConfigError(f"cannot read {where}: it is larger than {size}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"cannot read {where}: it is not UTF-8 text") from None


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
    """SafeLoader that reads YAML as kubectl does, within bounds.

    Duplicate keys are refused, as kubectl does, instead of keeping the last; a merge key's
    values (``<<: *defaults``) may be overridden, as YAML 1.1 tools (kubectl too) allow.
    Nesting, the values a document expands to through its aliases, and integer literals are
    bounded, so a hostile file is a ``ConstructorError`` rather than a RecursionError, a
    process that fills its memory, or Python's refusal to read 5,000 digits.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._nesting = 0
        # Per node of the current document: the values it stands for and its depth, aliases
        # expanded. Computed once per node, so an alias costs nothing to measure.
        self._extent: dict[int, tuple[int, int]] = {}

    def compose_document(self) -> yaml.Node | None:
        self._extent = {}
        return super().compose_document()

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            target = self.anchors.get(str(event.anchor))
            if target is not None and id(target) not in self._extent:
                raise _refused(f"alias *{event.anchor} refers to itself", event.start_mark)
            return super().compose_node(parent, index)
        self._nesting += 1
        try:
            if self._nesting > MAX_YAML_DEPTH:
                raise _refused(_too_deep(), event.start_mark)
            node = super().compose_node(parent, index)
        finally:
            self._nesting -= 1
        assert node is not None
        self._measure(node)
        return node

    def _measure(self, node: yaml.Node) -> None:
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        extents = [self._extent[id(child)] for child in children]
        values = 1 + sum(count for count, _ in extents)
        depth = 1 + max((deep for _, deep in extents), default=0)
        if values > MAX_YAML_VALUES:
            raise _refused(
                f"the document stands for more than {MAX_YAML_VALUES:,} values "
                "(are aliases expanding it?)",
                node.start_mark,
            )
        if depth > MAX_YAML_DEPTH:
            raise _refused(_too_deep(), node.start_mark)
        self._extent[id(node)] = (values, depth)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ArithmeticError, LookupError, TypeError, ValueError) as exc:
            # A scalar that looks like a date or number but is none (2024-13-45, !!int '').
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read the value: {exc}", node.start_mark
            ) from None


def _refused(problem: str, mark: Any) -> yaml.MarkedYAMLError:
    """A YAML error at ``mark`` (the stubs type the C parser's marks apart)."""
    return yaml.composer.ComposerError(None, None, problem, mark)


def _too_deep() -> str:
    return f"values are nested more than {MAX_YAML_DEPTH} deep"


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    digits = loader.construct_scalar(node)
    if len(digits) > MAX_INTEGER_CHARACTERS:
        raise yaml.constructor.ConstructorError(
            None, None, f"an integer of {len(digits):,} digits is too large", node.start_mark
        )
    return loader.construct_yaml_int(node)


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    # Duplicates are looked for among the keys written here: what a merge key brings in may be
    # overridden, which flatten_mapping arranges (the keys written here win).
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, f"a key cannot be {describe_value(key)}", key_node.start_mark
            ) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    loader.flatten_mapping(node)
    return loader.construct_mapping(node, deep=True)


_ManifestLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)
_ManifestLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


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
            decoded = base64.b64decode(unwrapped, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(
                f"{where}: data.{key} is not valid base64 text (use stringData for plain text)"
            ) from None
        try:
            values[str(key)] = decoded.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(
                f"{where}: data.{key} is base64 of data that is not UTF-8 text"
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
    spec its subclass ``InvalidSpec``) with one line naming ``source`` and the problem; what
    the file wrote in it (a key with a line break or an escape sequence) is shown escaped.
    """
    try:
        return _load(text, name, tuple(allowed_domains), source)
    except ConfigError as exc:
        message = printable(str(exc))
        if message == str(exc):
            raise
        raise type(exc)(message) from None


def _load(text: str, name: str | None, allowed: tuple[str, ...], source: str) -> Manifests:
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
    text = read_text_file(path, limit=MANIFEST_LIMIT_BYTES)
    return load_manifests(text, name, allowed_domains=allowed_domains, source=str(path))


def load_manifest_stdin(
    name: str | None = None, *, allowed_domains: Iterable[str] = DEFAULT_OKTA_DOMAINS
) -> Manifests:
    """``load_manifests`` of standard input (``-f -``, as ``kubectl apply -f -``), read to the
    same bound as a file."""
    source = "<stdin>"
    text = _text(sys.stdin.buffer.read(MANIFEST_LIMIT_BYTES + 1), MANIFEST_LIMIT_BYTES, source)
    return load_manifests(text, name, allowed_domains=allowed_domains, source=source)
