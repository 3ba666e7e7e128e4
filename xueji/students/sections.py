"""Sections that apps above students add to a student's page (the "学籍变动" tab of the changes app).

students stands below changes in the house (.importlinter): it cannot import the changes app, so changes
registers its section provider here from ``ChangesConfig.ready`` and the record page asks for every
registered section's context. A provider receives the viewer and the enrollment shown and returns template
context; it must apply the viewer's jurisdiction itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported by ChangesConfig while the app registry loads: no model at run time
    from xueji.accounts.types import Actor

    from .models import Enrollment

SectionProvider = Callable[["Actor", "Enrollment"], dict[str, Any]]

_PROVIDERS: dict[str, SectionProvider] = {}


def register_record_section(name: str, provider: SectionProvider) -> None:
    """Add (or replace, by name: ``ready()`` may run twice in tests) a section of the record page."""
    _PROVIDERS[name] = provider


def record_sections_context(viewer: Actor, enrollment: Enrollment) -> dict[str, Any]:
    """The merged context of every registered section, in registration order."""
    context: dict[str, Any] = {}
    for provider in _PROVIDERS.values():
        context.update(provider(viewer, enrollment))
    return context
