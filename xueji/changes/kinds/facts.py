"""Typed facts of a change kind, as the API publishes them (one schema per kind, a discriminated union on
``kind`` in the OpenAPI).

Every key is optional and values are passed to the kind's ``prepare`` exactly as sent: the published type
says what a client should send, and ``prepare`` refuses anything else with a Chinese message naming the
field (``FieldError``), as the web form shows it. Keys a kind does not know are accepted and ignored, as
they always were (``extra="allow"``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.json_schema import JsonDict


def _published(schema: dict[str, Any]) -> Any:
    return Annotated[Any, WithJsonSchema(schema)]


Text = _published({"type": "string"})
Day = _published({"type": "string", "format": "date"})
Month = _published({"type": "string", "pattern": "^[0-9]{4}-?[0-9]{2}$"})
Integer = _published({"type": "integer"})
Flag = _published({"anyOf": [{"type": "boolean"}, {"type": "string", "enum": ["0", "1"]}]})


Code = Text  # a code of a fixed list: ``fact(…, choices=…)`` publishes the list


def fact(description: str, *, choices: Iterable[str] | None = None) -> Any:
    """An optional fact with its Chinese description (and, for a code, the codes it takes)."""
    extra: JsonDict | None = {"enum": [str(c) for c in choices]} if choices is not None else None
    return Field(None, description=description, json_schema_extra=extra)


class KindFacts(BaseModel):
    """The facts of one kind (subclassed per kind)."""

    model_config = ConfigDict(extra="allow")

    def given(self) -> dict[str, Any]:
        """The facts as sent (keys not sent stay absent), for the kind's ``prepare``."""
        return self.model_dump(exclude_unset=True)
