"""The few Kubernetes API calls the operator makes itself: status, Secrets, annotations, Events.

Kopf watches and finalizes; these calls are the ones Kopf has no public API for: writing the
status while a sync runs (not only when a handler returns), reading a Secret at the moment a
sync needs it, setting the resync annotation from the CLI, and posting Events that name the
operator (``events.EventRecorder`` posts them in the background through this client).

Credentials come from the official ``kubernetes`` client's loaders (in-cluster service
account, or a kubeconfig with any auth plugin), loaded into an explicit ``Configuration``
object: never the process-wide default, which the client fills from ``$KUBECONFIG`` at import
time. The same credentials are handed to Kopf by the login handler, so both talk to the same
cluster as the same identity.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx
import kopf
import yaml
from kubernetes.client import Configuration
from kubernetes.config import (
    ConfigException,
    list_kube_config_contexts,
    load_incluster_config,
    load_kube_config,
)

from okta_hris.controller.events import EventRecorder, EventSource
from okta_hris.errors import ConfigError, HrisError, SecretNotFound
from okta_hris.resource.spec import API_GROUP, API_VERSION, PLURAL

MERGE_PATCH = "application/merge-patch+json"
REQUEST_TIMEOUT_S = 30.0
IN_CLUSTER_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


class KubernetesApiError(HrisError):
    """The Kubernetes API refused or failed a request the operator needed."""

    reason = "KubernetesApiError"

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


class ObjectNotFound(KubernetesApiError):
    """404: the object does not exist (any more)."""


def load_configuration(
    kubeconfig: str | None = None,
    context: str | None = None,
    *,
    prefer_kubeconfig: bool = False,
) -> Configuration:
    """Credentials for the cluster: ``kubeconfig`` if given, else in-cluster, else ``$KUBECONFIG``.

    ``prefer_kubeconfig`` (the CLI) tries ``$KUBECONFIG`` or ``~/.kube/config`` before the
    in-cluster service account. ``$KUBECONFIG`` is read here, when called, not when the client
    library was imported.
    """
    configuration = Configuration()
    if kubeconfig is None:
        default = os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
        has_default = bool(os.environ.get("KUBECONFIG")) or os.path.exists(default)
        if prefer_kubeconfig and has_default:
            kubeconfig = default
        else:
            try:
                load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
                return configuration
            except ConfigException:
                kubeconfig = default
    try:
        load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig,
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
    except (ConfigException, OSError) as exc:
        raise ConfigError(
            f"cannot load Kubernetes credentials from {kubeconfig} ({exc}); "
            "run in a cluster, set KUBECONFIG or pass --kubeconfig"
        ) from None
    except yaml.YAMLError as exc:
        # Never the parser's message: it quotes the file, and a kubeconfig holds credentials.
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"the kubeconfig {kubeconfig} is not valid YAML{where}") from None
    except (TypeError, AttributeError, ValueError, KeyError):
        raise ConfigError(f"the kubeconfig {kubeconfig} is not a kubeconfig file") from None
    return configuration


def default_namespace(kubeconfig: str | None = None, context: str | None = None) -> str:
    """The namespace kubectl would use: the kubeconfig context's, else the pod's, else default.

    The kubeconfig is looked for as ``load_configuration(prefer_kubeconfig=True)`` does.
    """
    path = kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    if kubeconfig or os.environ.get("KUBECONFIG") or os.path.exists(path):
        try:
            contexts, current = list_kube_config_contexts(path)  # type: ignore[no-untyped-call]
        except (ConfigException, OSError):
            return "default"  # load_configuration reports what is wrong with the file
        if context is not None:
            current = next((c for c in contexts or [] if c.get("name") == context), None)
        namespace = ((current or {}).get("context") or {}).get("namespace")
        return namespace if isinstance(namespace, str) and namespace else "default"
    try:
        with open(IN_CLUSTER_NAMESPACE_FILE, encoding="utf-8") as found:
            return found.read().strip() or "default"
    except OSError:
        return "default"


def _authorization(configuration: Configuration) -> tuple[str | None, str | None]:
    """(scheme, token) of the bearer credential, refreshed by the client's hooks if it expired."""
    # kubernetes>=36 keeps the bearer token under "BearerToken", older ones under "authorization".
    header: str | None = configuration.get_api_key_with_prefix(
        "BearerToken"
    ) or configuration.get_api_key_with_prefix("authorization")
    if not header:
        return None, None
    scheme, _, token = header.partition(" ")
    return (scheme, token) if token else (None, scheme)


def connection_info(configuration: Configuration) -> kopf.ConnectionInfo:
    """The same credentials, as Kopf's login handlers return them."""
    scheme, token = _authorization(configuration)
    return kopf.ConnectionInfo(
        server=configuration.host,
        ca_path=configuration.ssl_ca_cert,
        insecure=not configuration.verify_ssl,
        username=configuration.username or None,
        password=configuration.password or None,
        scheme=scheme,
        token=token,
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
    )


def _ssl_context(configuration: Configuration) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=configuration.ssl_ca_cert or None)
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file or None)
    if not configuration.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def decode_secret_data(data: Mapping[str, str] | None) -> dict[str, str]:
    """A Secret's base64 ``data`` as text; keys that are not UTF-8 text are left out."""
    decoded: dict[str, str] = {}
    for key, value in (data or {}).items():
        try:
            decoded[key] = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            continue
    return decoded


class KubeApi:
    """An async client for the handful of requests the operator and the CLI make."""

    def __init__(
        self, configuration: Configuration, event_source: EventSource | None = None
    ) -> None:
        """``event_source``: who posts the Events of ``recorder`` (default: ``POD_NAME``, else
        the host name, from the process's environment)."""
        self._configuration = configuration
        self.recorder = EventRecorder(
            self.create_event, event_source or EventSource.from_environ(os.environ)
        )
        auth: httpx.BasicAuth | None = None
        if configuration.username and configuration.password:
            auth = httpx.BasicAuth(configuration.username, configuration.password)
        self._http = httpx.AsyncClient(
            base_url=configuration.host,
            verify=_ssl_context(configuration) if configuration.host.startswith("https") else True,
            auth=auth,
            proxy=configuration.proxy or None,
            timeout=REQUEST_TIMEOUT_S,
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        """Post the Events still queued (for a few seconds at most), then disconnect."""
        await self.recorder.close()
        await self._http.aclose()

    async def __aenter__(self) -> KubeApi:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- OktaIntegrations ----------------------------------------------------------------------

    @staticmethod
    def _integration_path(namespace: str, name: str, subresource: str = "") -> str:
        path = (
            f"/apis/{API_GROUP}/{API_VERSION}/namespaces/{quote(namespace, safe='')}"
            f"/{PLURAL}/{quote(name, safe='')}"
        )
        return f"{path}/{subresource}" if subresource else path

    async def get_integration(self, namespace: str, name: str) -> dict[str, Any]:
        return await self._request("GET", self._integration_path(namespace, name))

    async def patch_integration_status(
        self, namespace: str, name: str, status: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Merge-patch ``status`` (through the status subresource): lists are replaced whole."""
        return await self._request(
            "PATCH",
            self._integration_path(namespace, name, "status"),
            payload={"status": dict(status)},
            content_type=MERGE_PATCH,
        )

    async def annotate_integration(
        self, namespace: str, name: str, annotations: Mapping[str, str | None]
    ) -> dict[str, Any]:
        return await self._request(
            "PATCH",
            self._integration_path(namespace, name),
            payload={"metadata": {"annotations": dict(annotations)}},
            content_type=MERGE_PATCH,
        )

    # -- Secrets -------------------------------------------------------------------------------

    async def read_secret(self, namespace: str, name: str) -> tuple[str, dict[str, str]]:
        """(resourceVersion, decoded data) of a Secret; SecretNotFound if it does not exist.

        The values are returned, never logged: error messages name the Secret, not its data.
        """
        path = f"/api/v1/namespaces/{quote(namespace, safe='')}/secrets/{quote(name, safe='')}"
        try:
            body = await self._request("GET", path)
        except ObjectNotFound:
            raise SecretNotFound(f'Secret "{name}" not found in namespace "{namespace}"') from None
        except KubernetesApiError as exc:
            if exc.status == 403:
                raise SecretNotFound(
                    f'the operator may not read Secret "{name}" in namespace "{namespace}" '
                    "(RBAC: get secrets)"
                ) from None
            raise
        version = str(body.get("metadata", {}).get("resourceVersion", ""))
        return version, decode_secret_data(body.get("data"))

    # -- Events --------------------------------------------------------------------------------

    async def create_event(self, namespace: str, event: Mapping[str, Any]) -> dict[str, Any]:
        """POST a core/v1 Event (RBAC: create events); ``recorder`` posts without waiting."""
        return await self._request(
            "POST", f"/api/v1/namespaces/{quote(namespace, safe='')}/events", payload=event
        )

    # -- plumbing ------------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        payload: Mapping[str, Any] | None = None,
        content_type: str | None = None,
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        if payload is not None and content_type is None:
            content_type = "application/json"
        scheme, token = _authorization(self._configuration)
        if token:
            headers["Authorization"] = f"{scheme or 'Bearer'} {token}"
        if content_type:
            headers["Content-Type"] = content_type
        try:
            response = await self._http.request(
                method,
                path,
                headers=headers,
                content=None if payload is None else json.dumps(payload).encode(),
            )
        except httpx.HTTPError as exc:
            raise KubernetesApiError(
                0, f"{method} {path}: the Kubernetes API is unreachable ({type(exc).__name__})"
            ) from None
        if response.status_code == 404:
            raise ObjectNotFound(404, f"{method} {path}: not found")
        if response.status_code >= 400:
            raise KubernetesApiError(
                response.status_code,
                f"{method} {path}: HTTP {response.status_code} {_status_message(response)}",
            )
        result: dict[str, Any] = response.json()
        return result


def _status_message(response: httpx.Response) -> str:
    """The ``message`` of a Kubernetes ``Status`` error (it never carries request bodies)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return str(message) if message else ""
