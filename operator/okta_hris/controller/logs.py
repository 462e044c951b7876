"""Which integration a log line is about, on every line and in every format.

A reconciliation binds its integration to a context variable once (``bind_integration``); every
line logged in that task, in the tasks it starts and in the sync's own thread and event loop
(``runtime.run_in_own_loop`` runs it in a copy of the context) then carries it. The loggers
that write those lines (the sync engine, the directory, the Okta client's retry warnings) know
nothing of Kubernetes: ``IntegrationFilter``, on the handler, reads the variable when a line is
logged. Kopf's own lines about an OktaIntegration carry it too, from the object reference Kopf
attaches to them.

In JSON (Kopf's formatter, extended) a line about an integration has the fields
``integration`` ("namespace/name"), ``namespace`` and ``name``, as Flux and External Secrets
Operator log them; in the plain and full formats it starts with ``[namespace/name]`` unless the
message already names the integration. Lines about nothing in particular (start-up) carry none.
The values are Kubernetes object names, never anything read from a Secret.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import kopf

# Kopf's formatters are not exported; extending them keeps Kopf's JSON fields (timestamp,
# severity, object) and its own per-object lines exactly as Kopf writes them.
from kopf._core.actions.loggers import ObjectFormatter, ObjectJsonFormatter

from okta_hris.resource.spec import GROUP_VERSION, KIND

# The LogRecord attribute the filter sets; a leading underscore keeps it out of JSON extras.
RECORD_ATTRIBUTE = "_hris_integration"
# Library loggers whose per-request lines add nothing an operator needs; httpcore's DEBUG
# lines also quote response headers verbatim, and a hostile Location may echo the token.
QUIET_LOGGERS = ("httpx", "httpcore")


@dataclass(frozen=True)
class IntegrationRef:
    """An OktaIntegration, by name: what a log line is about."""

    namespace: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


_current: ContextVar[IntegrationRef | None] = ContextVar("hris_integration", default=None)


def bind_integration(namespace: str, name: str) -> None:
    """Name the integration on every line logged from now on in this task's context.

    For a task that works on one integration for its whole life (a Kopf daemon): the binding
    ends with the task.
    """
    _current.set(IntegrationRef(namespace, name))


@contextlib.contextmanager
def integration_logging(namespace: str, name: str) -> Iterator[None]:
    """Name the integration on the lines logged inside the ``with`` block only."""
    token = _current.set(IntegrationRef(namespace, name))
    try:
        yield
    finally:
        _current.reset(token)


def integration_of(record: logging.LogRecord) -> IntegrationRef | None:
    """The integration a record is about: bound when it was logged, or Kopf's object."""
    bound = getattr(record, RECORD_ATTRIBUTE, None)
    if isinstance(bound, IntegrationRef):
        return bound
    ref = getattr(record, "k8s_ref", None)
    if (
        isinstance(ref, Mapping)
        and ref.get("kind") == KIND
        and ref.get("apiVersion") == (GROUP_VERSION)
    ):
        namespace, name = ref.get("namespace"), ref.get("name")
        if isinstance(namespace, str) and isinstance(name, str):
            return IntegrationRef(namespace, name)
    return None


class IntegrationFilter(logging.Filter):
    """Stamps each record with the integration bound where it was logged (on a handler, it
    sees the records of every logger, libraries included). Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        bound = _current.get()
        if bound is not None and not hasattr(record, RECORD_ATTRIBUTE):
            setattr(record, RECORD_ATTRIBUTE, bound)
        return True


class ExecPluginFilter(logging.Filter):
    """The Kubernetes client logs a failing kubeconfig exec credential plugin's error as is: its
    stderr or output, which may hold a credential. Those lines say only that it failed."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.funcName == "_load_from_exec_plugin" and record.pathname.endswith(
            os.path.join("kubernetes", "config", "kube_config.py")
        ):
            record.msg = "the kubeconfig's exec credential plugin failed (its output is not logged)"
            record.args = ()
        return True


class IntegrationJsonFormatter(ObjectJsonFormatter):
    """Kopf's JSON lines, plus ``integration``, ``namespace`` and ``name``."""

    def add_fields(
        self,
        log_record: dict[str, Any],
        record: logging.LogRecord,
        message_dict: dict[str, Any],
    ) -> None:
        super().add_fields(log_record, record, message_dict)
        ref = integration_of(record)
        if ref is not None:
            log_record["integration"] = ref.key
            log_record["namespace"] = ref.namespace
            log_record["name"] = ref.name


class IntegrationTextFormatter(ObjectFormatter):
    """Plain or full lines that start with ``[namespace/name]`` when they are about an
    integration (or another object Kopf names) and do not say which already."""

    def format(self, record: logging.LogRecord) -> str:
        subject = _subject(record)
        if subject is not None and subject not in record.getMessage():
            record = copy.copy(record)  # other handlers format the original
            record.msg = f"[{subject}] {record.getMessage()}"
            record.args = None
        return super().format(record)


def _subject(record: logging.LogRecord) -> str | None:
    ref = integration_of(record)
    if ref is not None:
        return ref.key
    kopf_ref = getattr(record, "k8s_ref", None)
    if isinstance(kopf_ref, Mapping) and kopf_ref.get("name"):
        namespace = kopf_ref.get("namespace")
        return f"{namespace}/{kopf_ref['name']}" if namespace else str(kopf_ref["name"])
    return None


def make_formatter(log_format: kopf.LogFormat) -> logging.Formatter:
    if log_format is kopf.LogFormat.JSON:
        return IntegrationJsonFormatter()
    return IntegrationTextFormatter(log_format.value)


def configure(*, debug: bool, verbose: bool, log_format: kopf.LogFormat) -> None:
    """Kopf's logging set-up (levels, its stderr handler), with our formatter and filter."""
    kopf.configure(debug=debug, verbose=verbose, log_format=log_format)
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, ObjectFormatter):  # the handler Kopf just installed
            handler.setFormatter(make_formatter(log_format))
            handler.addFilter(IntegrationFilter())
            handler.addFilter(ExecPluginFilter())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
