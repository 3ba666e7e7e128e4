"""One error type for the whole application.

Every rule violation raises :class:`ApplicationError` (or a subclass) with a stable machine ``code``, a
human message in Chinese, and an optional mapping ``fields`` from field name to a Chinese message naming
that field. The API renders it as ``{code, message, fields}``; forms attach ``fields`` to their inputs.
Tests match on ``code``, never on text.
"""

from __future__ import annotations

from collections.abc import Mapping


class ApplicationError(Exception):
    """A refused request: nothing was written (the service's transaction rolls back)."""

    status = 400

    def __init__(self, code: str, message: str, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields: dict[str, str] = dict(fields or {})

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "fields": self.fields}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r}, {self.fields!r})"


class NotFound(ApplicationError):
    """The object does not exist *or lies outside the viewer's jurisdiction* (never 403-with-data)."""

    status = 404

    def __init__(self, message: str = "对象不存在或不在您的管辖范围内") -> None:
        super().__init__("not_found", message)


class Forbidden(ApplicationError):
    """The actor's role does not allow the action (the object itself is visible to them)."""

    status = 403

    def __init__(self, code: str = "forbidden", message: str = "您的角色无权执行此操作") -> None:
        super().__init__(code, message)


class Conflict(ApplicationError):
    """The request collides with existing state (duplicate record, concurrent decision)."""

    status = 409


class FieldError(ApplicationError):
    """A single invalid input field: ``FieldError("id_number", "invalid_checksum", "身份证件号校验位错误")``."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(code, message, {field: message})
        self.field = field
