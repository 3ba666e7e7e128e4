"""Per-request context (request id, client IP) for audit events written deep inside services."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    ip: str | None = None


_current: ContextVar[RequestContext] = ContextVar("xueji_request_context", default=RequestContext())  # noqa: B039 - frozen dataclass


def current() -> RequestContext:
    return _current.get()


def set_current(ctx: RequestContext):  # -> Token
    return _current.set(ctx)


def reset(token) -> None:  # type: ignore[no-untyped-def]
    _current.reset(token)
