"""Django: one ``http.request`` event per request, unhandled exceptions once, a correlation id.

settings.py::

    from logkit.integrations.django import logging_settings
    MIDDLEWARE = ["logkit.integrations.django.RequestLogMiddleware", *MIDDLEWARE]   # first
    LOGGING = logging_settings("shop")

The middleware (sync and async capable) takes the correlation id from ``X-Request-ID`` or
``X-Correlation-ID`` when it is well formed (1–128 characters of ``[A-Za-z0-9._:-]``), else makes
one (or takes the active OpenTelemetry span's trace id), returns it in the ``X-Request-ID``
response header and binds it as ``trace.id`` — with ``client.ip`` and, once the view is reached,
``user.id`` — to every event logged while the request runs, Celery tasks it sends included.

Unhandled view exceptions are logged once, as ``http.exception`` with the stack trace, from
``process_exception``. Django's own ``django.request`` logger would log them (and every 4xx/5xx
response) a second time; :class:`DjangoRequestFilter`, which :func:`logging_settings` puts on that
logger, drops those records for requests the middleware saw — except an exception the middleware
could not see (one raised in another middleware), which it turns into the ``http.exception``.

Settings (all optional): ``LOGKIT_REQUEST_ID_HEADERS`` (default ``["X-Request-ID",
"X-Correlation-ID"]``; ``[]`` never trusts an incoming id), ``LOGKIT_RESPONSE_HEADER`` (default
``"X-Request-ID"``, None to not set it), ``LOGKIT_CLIENT_IP_HEADER`` (e.g. ``"X-Forwarded-For"``;
default None: ``REMOTE_ADDR`` only), ``LOGKIT_TRUSTED_PROXIES`` (addresses or CIDR networks whose
client-ip header is believed), ``LOGKIT_LOG_USER`` (default True). See docs/django.md.
"""
from __future__ import annotations

import ipaddress
import logging
import time
from typing import Any, Iterable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from .. import logging_config
from ..emit.context import bind, reset
from ._common import (DURATION, ERROR_MESSAGE, ERROR_TYPE, METHOD, OUTCOME, STATUS, TRACE_ID, URL_PATH,
                      ACTION, BODY_BYTES, action, emit, error_fields, name, new_trace_id, otel_trace_id,
                      valid_trace_id)

__all__ = ["RequestLogMiddleware", "DjangoRequestFilter", "DjangoServerFilter", "logging_settings", "client_ip"]

logger = logging.getLogger("logkit.django")

HTTP_REQUEST = action("http.request")
HTTP_EXCEPTION = action("http.exception")
ROUTE = name("django.route")
VIEW = name("django.view")
USER_ID = name("user.id")
CLIENT_IP = name("client.ip")
USER_AGENT = name("user_agent.original")
REQUEST_ID = name("http.request.id")

_DEFAULT_ID_HEADERS = ("X-Request-ID", "X-Correlation-ID")


def _meta_key(header: str) -> str:
    """``X-Forwarded-For`` -> ``HTTP_X_FORWARDED_FOR`` (a META key is accepted as it is)."""
    h = header.strip()
    if h.upper().startswith("HTTP_") or h in ("REMOTE_ADDR",):
        return h.upper()
    return "HTTP_" + h.upper().replace("-", "_")


def _parse_ip(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not isinstance(value, str):
        return None
    s = value.strip()
    if not s or len(s) > 64:
        return None
    try:
        return ipaddress.ip_address(s)
    except ValueError:
        pass
    # "1.2.3.4:5678" and "[2001:db8::1]:443" (some load balancers add the port)
    if s.startswith("[") and "]" in s:
        s = s[1:s.index("]")]
    elif s.count(":") == 1:
        s = s.split(":", 1)[0]
    else:
        return None
    try:
        return ipaddress.ip_address(s)
    except ValueError:
        return None


def _networks(items: Iterable[str]) -> tuple:
    nets = []
    for item in items or ():
        try:
            nets.append(ipaddress.ip_network(str(item).strip(), strict=False))
        except ValueError:
            raise ValueError(f"LOGKIT_TRUSTED_PROXIES: {item!r} is not an address or network") from None
    return tuple(nets)


def _trusted(ip, nets) -> bool:
    return any(ip.version == n.version and ip in n for n in nets)


def client_ip(meta: dict, header: str | None = None, trusted_proxies: Iterable = ()) -> str | None:
    """The client's address for a request's META.

    ``REMOTE_ADDR`` (the peer), unless ``header`` is configured AND the peer is one of
    ``trusted_proxies``: then the header's hops are read right to left, skipping trusted proxies,
    and the first address that is not one is the client. A malformed hop ends the walk at the last
    trusted address seen (a client can write anything left of the hop our proxy appended).
    """
    peer = _parse_ip(meta.get("REMOTE_ADDR"))
    nets = trusted_proxies if isinstance(trusted_proxies, tuple) and all(
        isinstance(n, (ipaddress.IPv4Network, ipaddress.IPv6Network)) for n in trusted_proxies) \
        else _networks(trusted_proxies)
    if peer is None:
        return None
    if not header or not nets or not _trusted(peer, nets):
        return str(peer)
    raw = meta.get(_meta_key(header))
    if not isinstance(raw, str) or not raw.strip():
        return str(peer)
    last = peer
    for hop in reversed(raw.split(",")[-32:]):
        ip = _parse_ip(hop)
        if ip is None:
            return str(last)
        if not _trusted(ip, nets):
            return str(ip)
        last = ip
    return str(last)


class _State:
    """What the middleware knows about one request (kept on it as ``request._logkit``)."""

    __slots__ = ("trace_id", "exception_logged", "user_id")

    def __init__(self, trace_id: str):
        self.trace_id = trace_id
        self.exception_logged = False
        self.user_id: str | None = None


# Exceptions Django turns into 4xx responses itself: not "unhandled".
def _client_error_types() -> tuple:
    from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
    from django.http import Http404
    from django.http.multipartparser import MultiPartParserError
    return (Http404, PermissionDenied, BadRequest, SuspiciousOperation, MultiPartParserError)


def _route(request) -> str | None:
    match = getattr(request, "resolver_match", None)
    route = getattr(match, "route", None) if match is not None else None
    return str(route) if route is not None else None


def _view(request) -> str | None:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return None
    path = getattr(match, "_func_path", None)
    if path:
        return path
    func = getattr(match, "func", None)
    obj = getattr(func, "view_class", None) or getattr(func, "cls", None) or func
    mod, qual = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    return f"{mod}.{qual}" if mod and qual else None


def _user_id(user) -> str | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    pk = getattr(user, "pk", None)
    return None if pk is None else str(pk)


def _evaluated_user(request):
    """request.user only when it is already loaded (reading it otherwise costs a session lookup)."""
    user = request.__dict__.get("user")
    if user is None:
        return None
    wrapped = getattr(user, "_wrapped", user)
    try:
        from django.utils.functional import empty
    except ImportError:  # pragma: no cover
        return None
    return None if wrapped is empty else wrapped


class RequestLogMiddleware:
    """Correlation id, client ip, user id; one ``http.request`` event; exceptions once.

    Put it first in ``MIDDLEWARE`` so that its duration covers the whole stack and it sees the
    response of every other middleware, and so that exceptions any of them turns into a 500 pass
    through it.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        from django.conf import settings
        self.get_response = get_response
        self.id_headers = tuple(_meta_key(h) for h in getattr(settings, "LOGKIT_REQUEST_ID_HEADERS",
                                                                 _DEFAULT_ID_HEADERS) or ())
        self.response_header = getattr(settings, "LOGKIT_RESPONSE_HEADER", "X-Request-ID")
        self.ip_header = getattr(settings, "LOGKIT_CLIENT_IP_HEADER", None)
        self.trusted = _networks(getattr(settings, "LOGKIT_TRUSTED_PROXIES", ()) or ())
        self.log_user = bool(getattr(settings, "LOGKIT_LOG_USER", True))
        self.client_errors = _client_error_types()
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)
            # Django adapts a sync process_view to async with sync_to_async, which runs it in a
            # thread with a *copy* of the context: a binding made there would be lost.
            self.process_view = self._process_view_async

    # --- the request's start and end ---------------------------------------------------------
    def _start(self, request):
        """(token, state, incoming request id) — binds trace.id and client.ip."""
        meta = request.META
        incoming = None
        for key in self.id_headers:
            incoming = valid_trace_id(meta.get(key))
            if incoming:
                break
        trace_id = otel_trace_id() or incoming or new_trace_id()
        state = _State(trace_id)
        try:
            request._logkit = state
        except Exception:
            pass
        fields = {TRACE_ID: trace_id}
        ip = client_ip(meta, self.ip_header, self.trusted)
        if ip:
            fields[CLIENT_IP] = ip
        return bind(**fields), state, incoming

    def _finish(self, request, response, state, incoming, started: int, exc: BaseException | None = None):
        duration = time.perf_counter_ns() - started
        status = getattr(response, "status_code", None) if response is not None else 500
        try:
            status = int(status)
        except (TypeError, ValueError):
            status = 500
        route = _route(request)
        fields: dict[str, Any] = {
            ACTION: HTTP_REQUEST,
            METHOD: request.method,
            STATUS: status,
            DURATION: duration,
            OUTCOME: "failure" if status >= 500 else "success",
            REQUEST_ID: incoming or state.trace_id,
            URL_PATH: request.path,
        }
        if route is not None:
            fields[ROUTE] = route
        view = _view(request)
        if view:
            fields[VIEW] = view
        ua = request.META.get("HTTP_USER_AGENT")
        if ua:
            fields[USER_AGENT] = ua
        if self.log_user:
            uid = state.user_id or _user_id(_evaluated_user(request))
            if uid:
                fields[USER_ID] = uid
        if response is not None and not getattr(response, "streaming", False):
            try:
                fields[BODY_BYTES] = len(response.content)
            except Exception:
                pass
        if exc is not None:
            fields.update({ERROR_TYPE: error_fields(exc)[ERROR_TYPE]})
        msg = f"{request.method} {route if route is not None else request.path} {status} " \
              f"{duration / 1e6:.1f}ms"
        emit(logger, logging.ERROR if status >= 500 else logging.INFO, msg, fields)
        if response is not None and self.response_header:
            try:
                if not response.has_header(self.response_header):
                    response[self.response_header] = state.trace_id
            except Exception:
                pass

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        started = time.perf_counter_ns()
        token, state, incoming = self._start(request)
        try:
            try:
                response = self.get_response(request)
            except BaseException as e:  # only with DEBUG_PROPAGATE_EXCEPTIONS or a broken handler
                self._finish(request, None, state, incoming, started, e)
                raise
            self._finish(request, response, state, incoming, started)
            return response
        finally:
            reset(token)

    async def __acall__(self, request):
        started = time.perf_counter_ns()
        token, state, incoming = self._start(request)
        try:
            try:
                response = await self.get_response(request)
            except BaseException as e:
                self._finish(request, None, state, incoming, started, e)
                raise
            self._finish(request, response, state, incoming, started)
            return response
        finally:
            reset(token)

    # --- the view ----------------------------------------------------------------------------
    def _bind_user(self, request, user) -> None:
        uid = _user_id(user)
        state = getattr(request, "_logkit", None)
        if uid and state is not None:
            state.user_id = uid
            # Reset with everything else when the request ends (the outer token restores all).
            bind(**{USER_ID: uid})

    def process_view(self, request, view_func, view_args, view_kwargs):
        if self.log_user:
            try:
                self._bind_user(request, getattr(request, "user", None))
            except Exception:
                pass
        return None

    async def _process_view_async(self, request, view_func, view_args, view_kwargs):
        if self.log_user:
            try:
                auser = getattr(request, "auser", None)
                user = await auser() if auser is not None else _evaluated_user(request)
                self._bind_user(request, user)
            except Exception:
                pass
        return None

    def process_exception(self, request, exception):
        """An exception raised by the view: logged once, with the stack trace; Django then answers."""
        if isinstance(exception, self.client_errors):
            return None
        state = getattr(request, "_logkit", None)
        if state is not None:
            if state.exception_logged:
                return None
            state.exception_logged = True
        fields = {ACTION: HTTP_EXCEPTION, OUTCOME: "failure", METHOD: request.method, URL_PATH: request.path}
        route = _route(request)
        if route is not None:
            fields[ROUTE] = route
        fields.update(error_fields(exception))
        emit(logger, logging.ERROR, f"Unhandled {type(exception).__name__} in "
             f"{route if route is not None else request.path}: {fields[ERROR_MESSAGE]}", fields,
             exc_info=(type(exception), exception, exception.__traceback__))
        return None


class DjangoRequestFilter(logging.Filter):
    """For the ``django.request`` logger: drop what the middleware already logged.

    Django logs every 4xx/5xx response and every unhandled exception there. For a request the
    middleware handled, the ``http.request`` event already carries the status, and the
    ``http.exception`` event the exception: those records are dropped. An exception the middleware
    could not see (raised by another middleware, so ``process_exception`` never ran) is kept and
    turned into the ``http.exception`` event. Requests the middleware never saw keep Django's record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            request = getattr(record, "request", None)
            state = getattr(request, "_logkit", None)
            if not isinstance(state, _State):
                return True
            if record.exc_info and record.exc_info[1] is not None and not state.exception_logged:
                state.exception_logged = True
                d = record.__dict__
                d.pop("request", None)
                d.pop("status_code", None)
                d[ACTION] = HTTP_EXCEPTION
                d[OUTCOME] = "failure"
                d[METHOD] = getattr(request, "method", None)
                d[URL_PATH] = getattr(request, "path", None)
                route = _route(request)
                if route is not None:
                    d[ROUTE] = route
                if TRACE_ID not in d:
                    d[TRACE_ID] = state.trace_id
                return True
            return False
        except Exception:
            return True


class DjangoServerFilter(logging.Filter):
    """For the ``django.server`` logger (runserver's WSGIRequestHandler): drop its per-request
    access lines (``"GET /x HTTP/1.1" 500 145``, logged at ERROR for a 5xx, with the connection's
    socket as ``request`` and no ``trace.id``), which repeat the middleware's ``http.request``
    event; keep its other records (a broken pipe, a bad request line), without the socket."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            d = record.__dict__
            if "status_code" in d and "server_time" in d:
                return False
            if "request" in d and not hasattr(d["request"], "META"):
                d.pop("request", None)  # a socket: its repr is no field of an event
            return True
        except Exception:
            return True


def logging_settings(service: str, *, level: str = "INFO", loggers: dict[str, str] | None = None,
                     **options: Any) -> dict[str, Any]:
    """The ``LOGGING`` setting: logkit's dictConfig for a Django service.

    ``options`` go to :func:`logkit.logging_config` (``filename``, ``stream``, ``environment``,
    ``queue``, ``console``, ...). On top of it: Django's own handlers are removed from the
    ``django`` logger (its records reach logkit's through the root logger, once), the
    ``django.request`` logger gets :class:`DjangoRequestFilter`, and ``django.server`` (runserver's
    access log, which the middleware replaces) logs errors only, without its per-request lines
    (:class:`DjangoServerFilter`: a 500 is one ``http.request`` event, not a second ERROR).
    """
    cfg = logging_config(service, "django", level=level, loggers=loggers, **options)
    cfg.setdefault("filters", {})["logkit_django_request"] = {
        "()": "logkit.integrations.django.DjangoRequestFilter"}
    cfg["filters"]["logkit_django_server"] = {"()": "logkit.integrations.django.DjangoServerFilter"}
    lg = cfg.setdefault("loggers", {})
    user = loggers or {}
    lg["django"] = {"level": user.get("django", level).upper(), "handlers": [], "propagate": True}
    lg["django.request"] = {"level": user.get("django.request", level).upper(), "handlers": [],
                            "propagate": True, "filters": ["logkit_django_request"]}
    lg["django.server"] = {"level": user.get("django.server", "ERROR").upper(), "handlers": [],
                           "propagate": True, "filters": ["logkit_django_server"]}
    return cfg
