"""The Okta Management API endpoints the sandbox serves, as aiohttp handlers.

Handlers translate HTTP to ``Org`` calls and back; Okta's write rules live in ``model``.
Cross-cutting behaviour (auth, rate limits, faults, headers) lives in ``server``.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from okta_hris.sandbox import errors
from okta_hris.sandbox.clock import parse_time
from okta_hris.sandbox.eventhooks import EventHookRegistry, hook_json
from okta_hris.sandbox.expressions import (
    DateFormatError,
    ExpressionError,
    Grammar,
    Predicate,
    compile_text,
    sort_key,
)
from okta_hris.sandbox.hookdelivery import HookDispatcher
from okta_hris.sandbox.model import (
    GroupRecord,
    Org,
    UserRecord,
    dumps,
    group_bytes,
    join_array,
    user_json,
    user_list_bytes,
)
from okta_hris.sandbox.queries import (
    group_filter_grammar,
    group_search_grammar,
    log_filter_grammar,
    user_filter_grammar,
    user_search_grammar,
)
from okta_hris.sandbox.systemlog import LogQueryError, RequestContext

T = TypeVar("T")

USERS_DEFAULT_LIMIT = 200
USERS_MAX_LIMIT = 200
USERS_Q_DEFAULT_LIMIT = 10
GROUPS_DEFAULT_LIMIT = 10_000
GROUPS_MAX_LIMIT = 10_000
GROUPS_Q_DEFAULT_LIMIT = 300
MEMBERS_DEFAULT_LIMIT = 1000
MEMBERS_MAX_LIMIT = 10_000
LOGS_DEFAULT_LIMIT = 100
LOGS_MAX_LIMIT = 1000
SORTED_SEARCH_CACHE_SIZE = 32


@dataclass
class ApiState:
    """What the handlers share: the org, its event hooks and the compiled grammars."""

    org: Org
    event_hooks: EventHookRegistry
    user_search: Grammar
    user_filter: Grammar
    group_filter: Grammar
    group_search: Grammar
    log_filter: Grammar
    sorted_searches: dict[tuple[str, ...], tuple[int, list[tuple[tuple[int, str], str]]]]

    @classmethod
    def for_org(cls, org: Org) -> ApiState:
        return cls(
            org=org,
            event_hooks=EventHookRegistry(org.clock, org.ids, org.admin.id),
            user_search=user_search_grammar(org.profile_attributes),
            user_filter=user_filter_grammar(),
            group_filter=group_filter_grammar(),
            group_search=group_search_grammar(),
            log_filter=log_filter_grammar(),
            sorted_searches={},
        )


API = web.AppKey("okta_api", ApiState)
HOOK_DISPATCHER = web.AppKey("hook_dispatcher", HookDispatcher)
REQUEST_ID = web.RequestKey("request_id", str)


# --- request and response helpers ------------------------------------------------------------


def base_url(request: web.Request) -> str:
    """Links point at the host the client used, so they can be followed as they are."""
    return f"{request.scheme}://{request.host}"


def context_of(request: web.Request) -> RequestContext:
    return RequestContext(
        request_id=request.get(REQUEST_ID, ""),
        ip=request.remote or "127.0.0.1",
        user_agent=request.headers.get("User-Agent", ""),
        path=request.path_qs,
    )


def json_response(payload: Any, status: int = 200) -> web.Response:
    body = payload if isinstance(payload, bytes) else dumps(payload)
    return web.Response(body=body, status=status, content_type="application/json", charset="utf-8")


def no_content() -> web.Response:
    return web.Response(status=204)


def page_response(request: web.Request, items: list[bytes], next_after: str | None) -> web.Response:
    """A page of a collection with Okta's ``Link`` headers: ``self`` first, then ``next`` on
    its own header line (the official SDK reads only the last ``Link`` line)."""
    response = json_response(join_array(items))
    response.headers.add("Link", f'<{request.url}>; rel="self"')
    if next_after is not None:
        next_url = request.url.update_query(after=next_after)
        response.headers.add("Link", f'<{next_url}>; rel="next"')
    return response


def limit_param(
    request: web.Request, default: int, maximum: int, *, clamp: bool = True, minimum: int = 1
) -> int:
    raw = request.query.get("limit")
    if raw is None or raw == "":
        return default
    try:
        limit = int(raw)
    except ValueError:
        raise errors.validation_failed("limit", f"limit: '{raw}' is not a number") from None
    if limit < minimum or (limit > maximum and not clamp):
        raise errors.validation_failed("limit", f"limit: must be between {minimum} and {maximum}")
    # Okta silently caps an over-large limit at the endpoint's maximum.
    return min(limit, maximum)


def bool_param(request: web.Request, name: str, default: bool) -> bool:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.lower()
    if lowered not in ("true", "false"):
        raise errors.validation_failed(name, f"{name}: must be true or false")
    return lowered == "true"


async def read_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        raise errors.malformed_body() from None
    if not isinstance(body, dict):
        raise errors.malformed_body()
    return body


def compile_or_reject(text: str, grammar: Grammar) -> Predicate:
    try:
        return compile_text(text, grammar)
    except DateFormatError:
        raise errors.invalid_date() from None
    except ExpressionError as problem:
        raise errors.invalid_search(str(problem)) from None


def query_parameters(request: web.Request) -> tuple[str | None, str | None, str | None]:
    """``search``, ``filter`` and ``q`` of a listing; Okta takes at most one of them. A present
    but empty ``search`` or ``filter`` is an empty expression, not an absent one."""
    query = request.query
    search, filter_text, q = query.get("search"), query.get("filter"), query.get("q")
    if sum(value is not None for value in (search, filter_text, q)) > 1:
        raise errors.search_and_filter()
    return search, filter_text, q


def take(
    items: Iterable[T], limit: int, keep: Callable[[T], bool] | None = None
) -> tuple[list[T], bool]:
    """Up to ``limit`` items that pass ``keep``, and whether another one exists."""
    page: list[T] = []
    for item in items:
        if keep is not None and not keep(item):
            continue
        if len(page) == limit:
            return page, True
        page.append(item)
    return page, False


def descending(request: web.Request) -> bool:
    order = request.query.get("sortOrder", "asc").lower()
    if order not in ("asc", "desc", "ascending", "descending"):
        raise errors.validation_failed("sortOrder", "sortOrder: must be asc or desc")
    return order.startswith("desc")


# --- sorted search (sortBy), with an opaque cursor ----------------------------------------------


def _encode_cursor(key: tuple[int, str], record_id: str) -> str:
    raw = json.dumps([key[0], key[1], record_id], ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[tuple[int, str], str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        flag, text, record_id = json.loads(base64.urlsafe_b64decode(padded))
        return (int(flag), str(text)), str(record_id)
    except (ValueError, TypeError, binascii.Error):
        raise errors.validation_failed("after", "after: invalid cursor") from None


def sorted_page(
    request: web.Request,
    state: ApiState,
    cache_key: tuple[str, ...],
    records: Callable[[], Iterable[Any]],
    predicate: Predicate,
    sort_by: str,
    grammar: Grammar,
    limit: int,
) -> tuple[list[str], str | None]:
    """Ids of one page of a search sorted by ``sort_by`` (ties by id), and the next cursor."""
    org = state.org
    rule = grammar.resolve(sort_by)
    if rule is None:
        raise errors.invalid_search(f"cannot sort by '{sort_by}'")
    cached = state.sorted_searches.get(cache_key)
    if cached is None or cached[0] != org.version:
        key = sort_key(rule.getter)
        entries = sorted((key(r), r.id) for r in records() if predicate(r))
        if len(state.sorted_searches) >= SORTED_SEARCH_CACHE_SIZE:
            state.sorted_searches.clear()
        state.sorted_searches[cache_key] = (org.version, entries)
    else:
        entries = cached[1]
    after = request.query.get("after")
    position = _decode_cursor(after) if after else None
    if descending(request):
        end = bisect_left(entries, position) if position else len(entries)
        window = entries[max(0, end - limit - 1) : end][::-1]
    else:
        start = bisect_right(entries, position) if position else 0
        window = entries[start : start + limit + 1]
    page, more = window[:limit], len(window) > limit
    next_after = _encode_cursor(*page[-1]) if more and page else None
    return [record_id for _, record_id in page], next_after


# --- users ---------------------------------------------------------------------------------------


async def list_users(request: web.Request) -> web.Response:
    state = request.app[API]
    org = state.org
    query = request.query
    base = base_url(request)
    search, filter_text, q = query_parameters(request)

    if search is not None:
        predicate = compile_or_reject(search, state.user_search)
        limit = limit_param(request, USERS_DEFAULT_LIMIT, USERS_MAX_LIMIT)
        sort_by = query.get("sortBy")
        if sort_by:
            order = query.get("sortOrder", "asc").lower()
            ids, next_after = sorted_page(
                request,
                state,
                ("users", search, sort_by, order),
                org.all_users,
                predicate,
                sort_by,
                state.user_search,
                limit,
            )
            items = [user_list_bytes(org.users[i], base) for i in ids]
            return page_response(request, items, next_after)
        users, more = take(org.users_after(query.get("after")), limit, predicate)
    elif filter_text is not None:
        predicate = compile_or_reject(filter_text, state.user_filter)
        limit = limit_param(request, USERS_DEFAULT_LIMIT, USERS_MAX_LIMIT)
        users, more = take(org.users_after(query.get("after")), limit, predicate)
    elif q is not None:
        # A people-picker lookup: prefix match, no DEPROVISIONED, and no paging.
        prefix = q.casefold()
        limit = limit_param(request, USERS_Q_DEFAULT_LIMIT, USERS_MAX_LIMIT)

        def matches(user: UserRecord) -> bool:
            if user.status == "DEPROVISIONED":
                return False
            return any(
                str(user.profile.get(name) or "").casefold().startswith(prefix)
                for name in ("firstName", "lastName", "email")
            )

        users, _ = take(org.users_after(None), limit, matches)
        return page_response(request, [user_list_bytes(u, base) for u in users], None)
    else:
        # The plain listing leaves out DEPROVISIONED users; search and filter include them.
        limit = limit_param(request, USERS_DEFAULT_LIMIT, USERS_MAX_LIMIT)
        users, more = take(
            org.users_after(query.get("after")), limit, lambda u: u.status != "DEPROVISIONED"
        )
    next_after = users[-1].id if more and users else None
    return page_response(request, [user_list_bytes(u, base) for u in users], next_after)


async def get_user(request: web.Request) -> web.Response:
    org = request.app[API].org
    user = org.find_user(request.match_info["user"])
    return json_response(user_json(user, base_url(request), full=True))


async def create_user(request: web.Request) -> web.Response:
    org = request.app[API].org
    body = await read_body(request)
    activate = bool_param(request, "activate", True)
    user = org.create_user(body, activate=activate, context=context_of(request))
    return json_response(user_json(user, base_url(request), full=True))


async def update_user(request: web.Request) -> web.Response:
    org = request.app[API].org
    user = org.find_user(request.match_info["user"])
    body = await read_body(request)
    org.update_user(user, body, replace=request.method == "PUT", context=context_of(request))
    return json_response(user_json(user, base_url(request), full=True))


async def delete_user(request: web.Request) -> web.Response:
    org = request.app[API].org
    user = org.find_user(request.match_info["user"])
    org.delete_user(user, context_of(request))
    return no_content()


async def user_groups(request: web.Request) -> web.Response:
    org = request.app[API].org
    user = org.find_user(request.match_info["user"])
    base = base_url(request)
    items = [group_bytes(g, base, stats=False) for g in org.groups_of(user)]
    return page_response(request, items, None)


def _activation(request: web.Request, default_send_email: bool) -> web.Response:
    if bool_param(request, "sendEmail", default_send_email):
        return json_response({})
    token = secrets.token_urlsafe(15)
    return json_response(
        {"activationUrl": f"{base_url(request)}/welcome/{token}", "activationToken": token}
    )


async def user_lifecycle(request: web.Request) -> web.Response:
    org = request.app[API].org
    user = org.find_user(request.match_info["user"])
    action = request.match_info["action"]
    context = context_of(request)
    if action == "activate":
        org.activate(user, context)
        return _activation(request, default_send_email=True)
    if action == "reactivate":
        org.reactivate(user, context)
        return _activation(request, default_send_email=False)
    operations: dict[str, Callable[[UserRecord, RequestContext], None]] = {
        "deactivate": org.deactivate,
        "suspend": org.suspend,
        "unsuspend": org.unsuspend,
        "unlock": org.unlock,
    }
    operation = operations.get(action)
    if operation is None:
        raise errors.path_not_found()
    operation(user, context)
    return json_response({})


# --- groups --------------------------------------------------------------------------------------


def _wants_stats(request: web.Request) -> bool:
    expand = request.query.get("expand", "")
    return "stats" in (part.strip() for part in expand.split(","))


async def list_groups(request: web.Request) -> web.Response:
    state = request.app[API]
    org = state.org
    query = request.query
    base = base_url(request)
    stats = _wants_stats(request)
    search, filter_text, q = query_parameters(request)
    keep: Predicate | None = None

    if search is not None:
        keep = compile_or_reject(search, state.group_search)
        limit = limit_param(request, GROUPS_DEFAULT_LIMIT, GROUPS_MAX_LIMIT)
        sort_by = query.get("sortBy")
        if sort_by:
            order = query.get("sortOrder", "asc").lower()
            ids, next_after = sorted_page(
                request,
                state,
                ("groups", search, sort_by, order),
                org.all_groups,
                keep,
                sort_by,
                state.group_search,
                limit,
            )
            items = [group_bytes(org.groups[i], base, stats=stats) for i in ids]
            return page_response(request, items, next_after)
    elif filter_text is not None:
        keep = compile_or_reject(filter_text, state.group_filter)
        limit = limit_param(request, GROUPS_DEFAULT_LIMIT, GROUPS_MAX_LIMIT)
    elif q is not None:
        # Okta's ``q`` matches the start of the name and cannot be paged.
        prefix = q.casefold()
        limit = limit_param(request, GROUPS_Q_DEFAULT_LIMIT, GROUPS_MAX_LIMIT)
        groups, _ = take(
            org.groups_after(None), limit, lambda g: g.name.casefold().startswith(prefix)
        )
        return page_response(request, [group_bytes(g, base, stats=stats) for g in groups], None)
    else:
        limit = limit_param(request, GROUPS_DEFAULT_LIMIT, GROUPS_MAX_LIMIT)
    groups, more = take(org.groups_after(query.get("after")), limit, keep)
    next_after = groups[-1].id if more and groups else None
    return page_response(request, [group_bytes(g, base, stats=stats) for g in groups], next_after)


async def get_group(request: web.Request) -> web.Response:
    org = request.app[API].org
    group = org.find_group(request.match_info["group"])
    return json_response(group_bytes(group, base_url(request), stats=_wants_stats(request)))


async def create_group(request: web.Request) -> web.Response:
    org = request.app[API].org
    group = org.create_group(await read_body(request), context_of(request))
    return json_response(group_bytes(group, base_url(request), stats=False))


async def replace_group(request: web.Request) -> web.Response:
    org = request.app[API].org
    group = org.find_group(request.match_info["group"])
    org.replace_group(group, await read_body(request), context_of(request))
    return json_response(group_bytes(group, base_url(request), stats=False))


async def delete_group(request: web.Request) -> web.Response:
    org = request.app[API].org
    org.delete_group(org.find_group(request.match_info["group"]), context_of(request))
    return no_content()


async def group_members(request: web.Request) -> web.Response:
    org = request.app[API].org
    group = org.find_group(request.match_info["group"])
    limit = limit_param(request, MEMBERS_DEFAULT_LIMIT, MEMBERS_MAX_LIMIT)
    base = base_url(request)
    ids, more = take(group.members_after(request.query.get("after")), limit)
    next_after = ids[-1] if more and ids else None
    return page_response(request, [user_list_bytes(org.users[i], base) for i in ids], next_after)


def _membership(request: web.Request) -> tuple[Org, GroupRecord, UserRecord]:
    org = request.app[API].org
    group = org.find_group(request.match_info["group"])
    user = org.users.get(request.match_info["user"])
    if user is None:
        raise errors.not_found(request.match_info["user"], "User")
    return org, group, user


async def add_member(request: web.Request) -> web.Response:
    org, group, user = _membership(request)
    org.add_member(group, user, context_of(request))
    return no_content()


async def remove_member(request: web.Request) -> web.Response:
    org, group, user = _membership(request)
    org.remove_member(group, user, context_of(request))
    return no_content()


# --- System Log ----------------------------------------------------------------------------------


def _time_param(request: web.Request, name: str) -> Any:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return parse_time(raw)
    except ValueError:
        raise errors.validation_failed(
            name,
            f"{name}: The date format in your query is not recognized. "
            "Please enter dates using ISO 8601 string format.",
        ) from None


async def list_logs(request: web.Request) -> web.Response:
    state = request.app[API]
    query = request.query
    limit = limit_param(request, LOGS_DEFAULT_LIMIT, LOGS_MAX_LIMIT, clamp=False, minimum=0)
    order = query.get("sortOrder", "ASCENDING").upper()
    if order not in ("ASCENDING", "DESCENDING"):
        raise errors.validation_failed("sortOrder", "sortOrder: must be ASCENDING or DESCENDING")
    filter_text = query.get("filter")
    predicate = compile_or_reject(filter_text, state.log_filter) if filter_text else None
    keywords = [word.casefold() for word in query.get("q", "").split() if word]
    try:
        page = state.org.log.query(
            since=_time_param(request, "since"),
            until=_time_param(request, "until"),
            after=query.get("after"),
            predicate=predicate,
            keywords=keywords,
            limit=limit,
            descending=order == "DESCENDING",
        )
    except LogQueryError as problem:
        raise errors.validation_failed(problem.parameter, str(problem)) from None
    return page_response(request, [event.json for event in page.events], page.next_after)


# --- event hooks ---------------------------------------------------------------------------------


async def list_event_hooks(request: web.Request) -> web.Response:
    base = base_url(request)
    return json_response([hook_json(h, base) for h in request.app[API].event_hooks.all()])


async def create_event_hook(request: web.Request) -> web.Response:
    hook = request.app[API].event_hooks.create(await read_body(request))
    return json_response(hook_json(hook, base_url(request)))


async def get_event_hook(request: web.Request) -> web.Response:
    hook = request.app[API].event_hooks.find(request.match_info["hook"])
    return json_response(hook_json(hook, base_url(request)))


async def replace_event_hook(request: web.Request) -> web.Response:
    hooks = request.app[API].event_hooks
    hook = hooks.replace(hooks.find(request.match_info["hook"]), await read_body(request))
    return json_response(hook_json(hook, base_url(request)))


async def delete_event_hook(request: web.Request) -> web.Response:
    hooks = request.app[API].event_hooks
    hook = hooks.find(request.match_info["hook"])
    hooks.delete(hook)
    request.app[HOOK_DISPATCHER].forget(hook.id)
    return no_content()


async def event_hook_lifecycle(request: web.Request) -> web.Response:
    action = request.match_info["action"]
    if action not in ("verify", "activate", "deactivate"):
        raise errors.path_not_found()
    hooks = request.app[API].event_hooks
    hook = hooks.find(request.match_info["hook"])
    if action == "verify":
        problem = await request.app[HOOK_DISPATCHER].verify(hook)
        if problem is not None:
            raise errors.validation_failed("verifyEventHook", f"Verification failed: {problem}")
        hooks.mark_verified(hook)
    else:
        hooks.set_status(hook, "ACTIVE" if action == "activate" else "INACTIVE")
    return json_response(hook_json(hook, base_url(request)))


# --- routing -------------------------------------------------------------------------------------


def add_routes(app: web.Application) -> None:
    routes: list[tuple[str, str, Callable[[web.Request], Any]]] = [
        ("GET", "/api/v1/users", list_users),
        ("POST", "/api/v1/users", create_user),
        ("GET", "/api/v1/users/{user}", get_user),
        ("POST", "/api/v1/users/{user}", update_user),
        ("PUT", "/api/v1/users/{user}", update_user),
        ("DELETE", "/api/v1/users/{user}", delete_user),
        ("GET", "/api/v1/users/{user}/groups", user_groups),
        ("POST", "/api/v1/users/{user}/lifecycle/{action}", user_lifecycle),
        ("GET", "/api/v1/groups", list_groups),
        ("POST", "/api/v1/groups", create_group),
        ("GET", "/api/v1/groups/{group}", get_group),
        ("PUT", "/api/v1/groups/{group}", replace_group),
        ("DELETE", "/api/v1/groups/{group}", delete_group),
        ("GET", "/api/v1/groups/{group}/users", group_members),
        ("PUT", "/api/v1/groups/{group}/users/{user}", add_member),
        ("DELETE", "/api/v1/groups/{group}/users/{user}", remove_member),
        ("GET", "/api/v1/logs", list_logs),
        ("GET", "/api/v1/eventHooks", list_event_hooks),
        ("POST", "/api/v1/eventHooks", create_event_hook),
        ("GET", "/api/v1/eventHooks/{hook}", get_event_hook),
        ("PUT", "/api/v1/eventHooks/{hook}", replace_event_hook),
        ("DELETE", "/api/v1/eventHooks/{hook}", delete_event_hook),
        ("POST", "/api/v1/eventHooks/{hook}/lifecycle/{action}", event_hook_lifecycle),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
