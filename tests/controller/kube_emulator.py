"""A Kubernetes API server for the operator tests: kmock's emulator with its gaps filled.

kmock 0.8's ``KubernetesEmulator`` keeps objects and serves list/watch/fetch over real HTTP,
but (see /work/shared/TESTING-K8S.md) it never assigns resourceVersion, uid,
creationTimestamp or generation; answers a failed JSON-patch ``test`` with 500 instead of 422;
ignores generateName; does not isolate the status subresource; serves no PUT and no
namespaces; and its watch can miss an event that arrives while it replays existing objects.
``ApiServer`` handles every writing request itself, the way the real apiserver does:

- create: uid, creationTimestamp, resourceVersion, generation 1, generateName, 409 on a
  duplicate, ``stringData`` folded into ``data`` for Secrets, ``status`` dropped for
  resources with a status subresource;
- patch (merge and JSON-patch) and put: a new resourceVersion per change (none when nothing
  changed), ``generation`` bumped when ``spec`` changes, 422 for a failed ``test`` op, 409
  for a stale resourceVersion, ``/status`` changing only status and the main endpoint
  changing everything but status, and a status that fails the resource's validator (the
  CRD's schema, as the apiserver checks it) refused with 422 and recorded in
  ``invalid_statuses``;
- delete: deletionTimestamp while finalizers remain, DELETED once they are gone;
- core/v1 Events checked as the apiserver checks a new Event with an ``eventTime`` (reporting
  component and instance, action and reason present and short enough, a message of at most
  1024 bytes, the involved object in the Event's namespace): one it would refuse gets 422 and
  is recorded in ``invalid_events``;
- ``GET /api/v1/namespaces`` lists the namespaces that have objects or were declared.

Reads go to kmock, except list and watch, which take its position in the event bus before it
replays the existing objects, so nothing written in between is lost. Both honour
``labelSelector`` as the apiserver does: a watch says DELETED when an object's labels stop
matching and ADDED when they start to.

Two faults a real API server has, on demand: ``refuse`` answers the next writes of a kind with
an error (429 from API priority and fairness, a 5xx), and ``expire_watches`` ends the watches
of a resource with "410 Gone", after which a client lists again (Kopf replays what it lists as
events of type None).
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import re
import secrets
import string
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp.web
import attrs
import jsonpatch
import kmock
from kmock._internal import rendering  # the Request type of the handler hooks we override

from okta_hris.controller.sharding import ShardSelector

NAMESPACES_PATH = "/api/v1/namespaces"
_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits
EVENTS = kmock.resource("v1/events")
# k8s.io/apimachinery validation: a qualified name ([prefix/]name) and the Event field limits.
_QUALIFIED_NAME = re.compile(
    r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
EVENT_FIELD_LIMIT = 128
EVENT_MESSAGE_BYTES = 1024


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge-patch."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_problems(event: Mapping[str, Any]) -> list[str]:
    """Why the apiserver would refuse to create this core/v1 Event (none: it would not).

    Follows ``ValidateEventCreate`` for the v1 API (its legacy checks): an Event with an
    ``eventTime`` must name its reporting component (a qualified name, at most 63 characters
    after any prefix) and instance, an action and a reason (each at most 128 characters), and
    its message is at most 1024 bytes. The involved object is in the Event's namespace.
    """
    problems: list[str] = []
    meta = event.get("metadata") or {}
    involved = event.get("involvedObject") or {}
    if involved.get("namespace") and involved.get("namespace") != meta.get("namespace"):
        problems.append("involvedObject.namespace: does not match event.namespace")
    if len(str(event.get("message") or "").encode()) > EVENT_MESSAGE_BYTES:
        problems.append(f"message: must have at most {EVENT_MESSAGE_BYTES} bytes")
    if not event.get("eventTime"):
        return problems
    component = str(event.get("reportingComponent") or "")
    if not _QUALIFIED_NAME.match(component) or len(component.rsplit("/", 1)[-1]) > 63:
        problems.append(f"reportingComponent: {component!r} is not a qualified name")
    for field in ("reportingInstance", "action", "reason"):
        value = str(event.get(field) or "")
        if not value:
            problems.append(f"{field}: Required value")
        elif len(value) > EVENT_FIELD_LIMIT:
            problems.append(f"{field}: must have at most {EVENT_FIELD_LIMIT} characters")
    return problems


def _status_error(code: int, reason: str, message: str) -> kmock.KubernetesError:
    return kmock.KubernetesError(status=code, reason=reason, message=message, details={})


@attrs.define
class Refusal:
    """Answer the next ``times`` writes of ``method`` to ``plural`` (``/subresource``) so."""

    method: str
    plural: str
    subresource: str | None
    code: int
    times: int


@attrs.define(kw_only=True)
class ApiServer(kmock.KubernetesEmulator):
    namespaces: set[str] = attrs.field(factory=set)
    refusals: list[Refusal] = attrs.field(factory=list)
    # Validates a resource's whole status, as a real apiserver does against the CRD's schema:
    # plural -> a function returning the problems found (none: valid).
    status_validators: dict[str, Callable[[Any], list[str]]] = attrs.field(factory=dict)
    # Every status write a validator refused (with 422), for the tests to assert none was.
    invalid_statuses: list[str] = attrs.field(factory=list)
    # Every Event refused (with 422) as the apiserver would (``event_problems``).
    invalid_events: list[str] = attrs.field(factory=list)
    _revision: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1), init=False)

    # -- faults --------------------------------------------------------------------------------

    def refuse(
        self,
        method: str,
        plural: str,
        *,
        subresource: str | None = None,
        code: int = 429,
        times: int = 1,
    ) -> Refusal:
        refusal = Refusal(method, plural, subresource, code, times)
        self.refusals.append(refusal)
        return refusal

    def _refusal(self, request: rendering.Request) -> Refusal | None:
        assert request.resource is not None
        for refusal in self.refusals:
            if (
                refusal.times > 0
                and refusal.method == request.method.value
                and refusal.plural == request.resource.plural
                and refusal.subresource == request.subresource
            ):
                refusal.times -= 1
                return refusal
        return None

    async def expire_watches(self, resource: str) -> None:
        """End every watch of ``resource`` (e.g. "v1/secrets") with 410 Gone."""
        gone = {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"}
        await self._buses[kmock.resource(resource)].put({"type": "ERROR", "object": gone})

    # -- declaring resources -------------------------------------------------------------------

    def declare(
        self,
        resource: str,
        *,
        kind: str,
        namespaced: bool = True,
        subresources: tuple[str, ...] = (),
        shortnames: tuple[str, ...] = (),
    ) -> None:
        self.resources[resource] = kmock.ResourceInfo(
            kind=kind,
            singular=kind.lower(),
            namespaced=namespaced,
            verbs={"get", "list", "watch", "create", "update", "patch", "delete"},
            shortnames=set(shortnames),
            subresources=set(subresources),
        )

    def _info(self, resource: kmock.resource) -> kmock.ResourceInfo | None:
        for known in self.resources:
            if known == resource:
                found: kmock.ResourceInfo = self.resources[known]
                return found
        return None

    def _has_status_subresource(self, resource: kmock.resource) -> bool:
        info = self._info(resource)
        return info is not None and "status" in info.subresources

    # -- HTTP entry points ---------------------------------------------------------------------

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        # kmock's path parser fails on the namespaces collection (HTTP 500); serve it here.
        path = raw_request.path.rstrip("/")
        is_namespace = path.count("/") == 4 and path.startswith(NAMESPACES_PATH + "/")
        if path == NAMESPACES_PATH or is_namespace:
            body = await raw_request.read()
            if raw_request.method == "POST" and path == NAMESPACES_PATH:
                name = json.loads(body or b"{}").get("metadata", {}).get("name")
                if name:
                    self.namespaces.add(name)
            elif raw_request.method == "DELETE" and is_namespace:
                self.namespaces.discard(path.rsplit("/", 1)[-1])
            return self._serve_namespaces(path)
        return await super().__call__(raw_request)

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        if request.resource is not None and request.method.value in (
            "POST",
            "PATCH",
            "PUT",
            "DELETE",
        ):
            return await self._write(request)
        return await super()._handle(request)

    # -- writes --------------------------------------------------------------------------------

    async def _write(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        assert request.resource is not None
        refusal = self._refusal(request)
        if refusal is not None:
            reason = "TooManyRequests" if refusal.code == 429 else "InternalError"
            raise _status_error(refusal.code, reason, f"refused on purpose ({refusal.code})")
        async with self._lock:
            method = request.method.value
            if method == "POST" and request.name is None:
                code, obj, event = self._create(request)
            elif method == "PATCH" and request.name is not None:
                code, obj, event = self._patch(request)
            elif method == "PUT" and request.name is not None:
                code, obj, event = self._replace(request)
            elif method == "DELETE" and request.name is not None:
                code, obj, event = self._delete(request)
            else:
                raise _status_error(405, "MethodNotAllowed", f"{method} {request.url.path}")
            if event is not None:
                await self._buses[request.resource].put({"type": event, "object": obj})
        return aiohttp.web.json_response(obj, status=code)

    def _key(self, request: rendering.Request, name: str) -> tuple[kmock.resource, str | None, str]:
        assert request.resource is not None
        return (request.resource, request.namespace, name)

    def _current(self, request: rendering.Request) -> tuple[Any, dict[str, Any]]:
        assert request.name is not None
        key = self._key(request, request.name)
        if key not in self.objects or self.objects[key].deleted:
            raise _status_error(404, "NotFound", f'"{request.name}" not found')
        stored = self.objects[key]
        return key, copy.deepcopy(stored.raw)

    def _stamp(self, obj: dict[str, Any]) -> None:
        obj.setdefault("metadata", {})["resourceVersion"] = str(next(self._revision))

    def _create(self, request: rendering.Request) -> tuple[int, dict[str, Any], str | None]:
        assert request.resource is not None
        obj = copy.deepcopy(request.data) if isinstance(request.data, dict) else None
        if obj is None:
            raise _status_error(400, "BadRequest", "the body must be a JSON object")
        meta = obj.setdefault("metadata", {})
        if request.namespace is not None:
            meta["namespace"] = request.namespace
        name = meta.get("name")
        if not name and meta.get("generateName"):
            suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(5))
            name = meta["name"] = f"{meta['generateName']}{suffix}"
        if not name:
            raise _status_error(422, "Invalid", "metadata.name or generateName is required")
        key = self._key(request, name)
        if key in self.objects and not self.objects[key].deleted:
            raise _status_error(409, "AlreadyExists", f'"{name}" already exists')
        if self._has_status_subresource(request.resource):
            obj.pop("status", None)
        if request.resource == EVENTS and (problems := event_problems(obj)):
            self.invalid_events.append(f"{obj.get('reason')}: {'; '.join(problems)}")
            raise _status_error(422, "Invalid", "; ".join(problems))
        if request.resource == kmock.resource("v1/secrets") and "stringData" in obj:
            data = obj.setdefault("data", {})
            for k, v in obj.pop("stringData").items():
                data[k] = base64.b64encode(str(v).encode()).decode()
        for managed in ("resourceVersion", "deletionTimestamp", "generation"):
            meta.pop(managed, None)
        meta["uid"] = f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-{secrets.token_hex(6)}"
        meta["creationTimestamp"] = _now()
        if request.resource.group:  # custom resources count generations from 1
            meta["generation"] = 1
        self._stamp(obj)
        if key in self.objects:
            self.objects[key].create(obj)
        else:
            self.objects[key] = obj
        return 201, obj, "ADDED"

    def _patch(self, request: rendering.Request) -> tuple[int, dict[str, Any], str | None]:
        key, old = self._current(request)
        content_type = request.headers.get("Content-Type", "")
        if "json-patch" in content_type:
            if not isinstance(request.data, list):
                raise _status_error(400, "BadRequest", "a JSON patch must be a list")
            try:
                new = jsonpatch.apply_patch(old, request.data, in_place=False)
            except jsonpatch.JsonPatchTestFailed as exc:
                raise _status_error(422, "Invalid", f"the patch test failed: {exc}") from None
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
                raise _status_error(422, "Invalid", f"the patch cannot be applied: {exc}") from None
        else:
            if not isinstance(request.data, dict):
                raise _status_error(400, "BadRequest", "a merge patch must be a JSON object")
            wanted = (request.data.get("metadata") or {}).get("resourceVersion")
            if wanted is not None and wanted != old["metadata"].get("resourceVersion"):
                raise _status_error(409, "Conflict", "the object has been modified")
            new = merge_patch(old, request.data)
        return self._store(request, key, old, new)

    def _replace(self, request: rendering.Request) -> tuple[int, dict[str, Any], str | None]:
        key, old = self._current(request)
        if not isinstance(request.data, dict):
            raise _status_error(400, "BadRequest", "the body must be a JSON object")
        new = copy.deepcopy(request.data)
        wanted = (new.get("metadata") or {}).get("resourceVersion")
        if wanted is not None and wanted != old["metadata"].get("resourceVersion"):
            raise _status_error(409, "Conflict", "the object has been modified")
        return self._store(request, key, old, new)

    def _validate_status(self, plural: str | None, status: Any) -> None:
        validator = self.status_validators.get(plural or "")
        problems = validator(status) if validator is not None else []
        if problems:
            self.invalid_statuses.append(f"{plural}: {'; '.join(problems)}")
            raise _status_error(422, "Invalid", "; ".join(problems))

    def _store(
        self,
        request: rendering.Request,
        key: Any,
        old: dict[str, Any],
        new: dict[str, Any],
    ) -> tuple[int, dict[str, Any], str | None]:
        assert request.resource is not None
        if self._has_status_subresource(request.resource):
            if request.subresource == "status":
                new = {**old, "status": new.get("status")}
                if new["status"] is None:
                    del new["status"]
                self._validate_status(request.resource.plural, new.get("status", {}))
            elif "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        meta = new.setdefault("metadata", {})
        for immutable in ("name", "namespace", "uid", "creationTimestamp", "generation"):
            if immutable in old["metadata"]:
                meta[immutable] = old["metadata"][immutable]
        if old["metadata"].get("deletionTimestamp"):
            meta["deletionTimestamp"] = old["metadata"]["deletionTimestamp"]
        meta["resourceVersion"] = old["metadata"].get("resourceVersion")
        if new == old:
            return 200, old, None  # a no-op write: no new version, no watch event
        if new.get("spec") != old.get("spec") and "generation" in meta:
            meta["generation"] = int(meta["generation"]) + 1
        self._stamp(new)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self.objects[key].history.append(new)
            self.objects[key].delete()
            return 200, new, "DELETED"
        self.objects[key].history.append(new)
        return 200, new, "MODIFIED"

    def _delete(self, request: rendering.Request) -> tuple[int, dict[str, Any], str | None]:
        key, old = self._current(request)
        if old["metadata"].get("finalizers"):
            if old["metadata"].get("deletionTimestamp"):
                return 200, old, None
            new = copy.deepcopy(old)
            new["metadata"]["deletionTimestamp"] = _now()
            if "generation" in new["metadata"]:
                new["metadata"]["generation"] = int(new["metadata"]["generation"]) + 1
            self._stamp(new)
            self.objects[key].history.append(new)
            return 200, new, "MODIFIED"
        self._stamp(old)
        self.objects[key].history.append(old)
        self.objects[key].delete()
        return 200, old, "DELETED"

    # -- reads ---------------------------------------------------------------------------------

    def _live_objects(self, request: rendering.Request) -> list[dict[str, Any]]:
        selector = _label_selector(request)
        found = []
        for (resource, namespace, name), obj in self.objects.items():
            if resource != request.resource or obj.deleted:
                continue
            if request.namespace is not None and namespace != request.namespace:
                continue
            if request.name is not None and name != request.name:
                continue
            if not selector.matches((obj.raw.get("metadata") or {}).get("labels")):
                continue
            found.append(copy.deepcopy(obj.raw))
        return found

    async def _serve_list(self, request: rendering.Request) -> rendering.Payload:
        if request.resource is None or self._info(request.resource) is None:
            raise kmock.KubernetesResourceNotFoundError()
        async with self._lock:
            items = self._live_objects(request)
            revision = str(next(self._revision))
        return {"metadata": {"resourceVersion": revision}, "items": items}

    async def _serve_watch(self, request: rendering.Request) -> AsyncIterator[rendering.Payload]:
        yield b""  # send the headers: the stream is open even if nothing happens
        assert request.resource is not None
        bus = self._buses[request.resource]
        async with self._lock:
            # Mark the bus before the snapshot: every later write is streamed after it.
            mark = await bus.mark()
            objects = self._live_objects(request)
            existing = [{"type": "ADDED", "object": obj} for obj in objects]
        selector = _label_selector(request)
        # What this watcher has been told exists: leaving the selector is a DELETED for it.
        visible = {(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects}
        try:
            for event in existing:
                yield event
            async for event in bus.stream(since=mark):
                if event.get("type") == "ERROR":
                    yield event
                    return
                meta = event.get("object", {}).get("metadata", {})
                if request.namespace is not None and meta.get("namespace") != request.namespace:
                    continue
                if request.name is not None and meta.get("name") != request.name:
                    continue
                key = (meta.get("namespace"), meta.get("name"))
                if event.get("type") != "DELETED" and selector.matches(meta.get("labels")):
                    yield event if key in visible else {**event, "type": "ADDED"}
                    visible.add(key)
                elif key in visible:
                    visible.discard(key)
                    yield {**event, "type": "DELETED"}
        finally:
            await bus.unmark(mark)

    def _serve_namespaces(self, path: str) -> aiohttp.web.Response:
        names = set(self.namespaces)
        names.update(ns for (_, ns, _), obj in self.objects.items() if ns and not obj.deleted)
        items = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}, "status": {}}
            for n in sorted(names)
        ]
        if path != NAMESPACES_PATH:
            wanted = path.rsplit("/", 1)[-1]
            for item in items:
                if item["metadata"]["name"] == wanted:
                    return aiohttp.web.json_response(item)
            status = {"kind": "Status", "code": 404, "reason": "NotFound", "status": "Failure"}
            return aiohttp.web.json_response(status, status=404)
        body = {"kind": "NamespaceList", "apiVersion": "v1", "metadata": {}, "items": items}
        return aiohttp.web.Response(text=json.dumps(body), content_type="application/json")


def _label_selector(request: rendering.Request) -> ShardSelector:
    return ShardSelector.parse(request.params.get("labelSelector"), source="labelSelector")
