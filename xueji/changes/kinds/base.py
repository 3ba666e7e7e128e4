"""The plug-in interface of a change kind: the kind's single home.

A spec says everything about its kind: who starts it and from which records (``initiator``, ``entry``,
``from_statuses``, :meth:`KindSpec.offered_on`, :meth:`KindSpec.refusal`), how the receiving school finds the
student (:meth:`KindSpec.lookup`), its facts as a typed schema (``facts_schema``, published in the OpenAPI)
and the page's form (``form``), how its facts are shown (``fact_labels``, ``hidden_facts``,
:meth:`KindSpec.fact_text`, :meth:`KindSpec.extra_fact_rows`), which chain variant applies, how the facts are
validated (:meth:`KindSpec.prepare`), what the approval will change (:meth:`KindSpec.what_changes`), when it takes
effect (``effective_fact``) and the change applied (:meth:`KindSpec.apply`) — at the last approval, or on the
start date by the daily task. Nothing else touches the enrollment. See CONTRIBUTING.md "Adding a change kind"."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar

from xueji.accounts.types import Actor
from xueji.core.errors import ApplicationError
from xueji.schools.models import School
from xueji.students.models import Enrollment

from ..enums import IN_SCHOOL, Entry, Party, Scope
from ..policy import Policy
from .facts import KindFacts

if TYPE_CHECKING:
    from .inputs import KindForm


@dataclass
class Context:
    actor: Actor
    today: date
    policy: Policy
    enrollment: Enrollment | None
    school: School | None  # the record's school
    target_school: School | None
    facts: dict[str, Any]
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class KindSpec:
    kind: ClassVar[str]
    initiator: ClassVar[str] = Party.SCHOOL  # whose registrar submits
    needs_enrollment: ClassVar[bool] = True
    needs_target_school: ClassVar[bool] = False
    # Enrollment statuses from which the change may start (None = any active record).
    from_statuses: ClassVar[frozenset[str] | None] = IN_SCHOOL
    # Closed records a kind may still start from (progression of a graduate: status 07, inactive).
    closed_statuses: ClassVar[frozenset[str]] = frozenset()

    # --- the pages and the API ---------------------------------------------------------------------------
    # Where the pages start it: from a student's record, by 学籍号 + 姓名 at the receiving school, …
    entry: ClassVar[str] = Entry.RECORD
    menu_order: ClassVar[int] = 0  # position in its menu (the student's "办理学籍变动" or the start links)
    start_label: ClassVar[str] = ""  # the start link's text, for kinds not started from a record
    # The facts as the API takes them (every key optional: ``prepare`` names a missing one in Chinese).
    facts_schema: ClassVar[type[KindFacts]] = KindFacts
    form: ClassVar[type[KindForm]]  # the page's form: its inputs are exactly the facts ``prepare`` reads
    # Labels of the facts shown on a request (overriding or adding to the shared vocabulary,
    # ``presenters.FACT_LABELS``), and stored facts never shown.
    fact_labels: ClassVar[dict[str, str]] = {}
    hidden_facts: ClassVar[frozenset[str]] = frozenset()
    # The fact holding the date the change starts (e.g. 休学开始日期, 第16条): a last approval before that date
    # schedules the change and the daily task applies it on the date; "" = it takes effect at the approval.
    effective_fact: ClassVar[str] = ""

    def offered_on(self, enrollment: Enrollment) -> bool:
        """Whether the kind fits the record (its status, stage, grade, school) for the "办理学籍变动" menu;
        ``prepare`` decides anyway."""
        return self.from_statuses is None or enrollment.status in self.from_statuses

    def refusal(self, enrollment: Enrollment) -> ApplicationError | None:
        """A refusal the regulation gives outright for this record: the menu lists the kind disabled with it."""
        return None

    def lookup(self, *, student_number: str, name: str) -> Enrollment:
        """The record a receiving school names by 学籍号 AND 姓名, nationally (``entry`` LOOKUP / RECEIVING).
        Raises NotFound."""
        raise NotImplementedError(f"{self.kind} is not started by a national lookup")

    def form_options(self, *, enrollment: Enrollment | None) -> dict[str, Any]:
        """Extra keyword arguments of the form for this record (choices that depend on it)."""
        return {}

    def current_values(self, person: Any) -> list[tuple[str, str]]:
        """Current values shown beside the form (e.g. the key data a change replaces)."""
        return []

    def fact_text(self, key: str, value: Any) -> str | None:
        """The kind's own display of a fact (``None``: the shared display of ``presenters``)."""
        return None

    def extra_fact_rows(
        self, facts: dict[str, Any], text: Callable[[str, Any], str]
    ) -> list[tuple[str, str]]:
        """Rows shown after the labelled facts (``text`` formats one value as the shared display does)."""
        return []

    def effective_on(self, facts: dict[str, Any]) -> date | None:
        """The date the change starts (``effective_fact``), or None when it takes effect at the approval."""
        value = (facts or {}).get(self.effective_fact) if self.effective_fact else None
        if not value:
            return None
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            return None

    def what_changes(self, request: Any) -> list[tuple[str, Any, Any]]:
        """What the last approval writes, as ``(key, before, after)``: the key names a fact or a record value
        (``status``, ``school``, ``grade`` …, labelled and shown by the presenters), ``before`` is the record as
        it stands now. Shown on the confirmation of an approval and on the work card. Default: nothing shown
        beyond the request's facts."""
        return []

    def variant(self, ctx: Context) -> str:
        return "any"

    def scope(self, ctx: Context) -> str:
        return Scope.NONE

    def prepare(self, ctx: Context) -> dict[str, Any]:
        """Validate the facts; return the cleaned facts to store. Raise ApplicationError/FieldError."""
        return dict(ctx.facts)

    def apply(self, request: Any, actor: Actor, today: date) -> dict[str, Any]:
        """Write the change (the request is approved by its last step). Returns the 'after' for the audit."""
        raise NotImplementedError
