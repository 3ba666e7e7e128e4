"""Parse ``settings.XUEJI_SCHEDULE`` and decide which entries are due (pure: no database)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time

DAILY = re.compile(r"^daily (\d{1,2}):(\d{2})$")
EVERY = re.compile(r"^every (\d+)s$")


class ScheduleError(ValueError):
    pass


@dataclass(frozen=True)
class Entry:
    name: str  # dotted path of a django-tasks Task
    daily_at: time | None = None
    every_seconds: int | None = None

    def slot(self, now: datetime) -> str | None:
        """The slot due at ``now`` (an aware local datetime), or None when a daily entry is not due yet today.

        A daily entry's slot is the local date: due from its time until midnight, so a scheduler started
        after the time (restart, downtime) still runs today's job once. An interval entry's slot is the
        number of whole intervals since the epoch."""
        if self.daily_at is not None:
            if now.time() < self.daily_at:
                return None
            return now.date().isoformat()
        assert self.every_seconds is not None
        return f"every{self.every_seconds}s:{int(now.timestamp()) // self.every_seconds}"


def parse(schedule: dict[str, str]) -> list[Entry]:
    """``{"pkg.tasks.job": "daily 02:30" | "every 60s"}`` → entries; raises ScheduleError naming the entry."""
    entries = []
    for name, spec in schedule.items():
        text = str(spec).strip().lower()
        if match := DAILY.match(text):
            hour, minute = int(match[1]), int(match[2])
            if hour > 23 or minute > 59:
                raise ScheduleError(f"XUEJI_SCHEDULE[{name!r}]: 时间无效 {spec!r}")
            entries.append(Entry(name, daily_at=time(hour, minute)))
        elif match := EVERY.match(text):
            seconds = int(match[1])
            if seconds < 1:
                raise ScheduleError(f"XUEJI_SCHEDULE[{name!r}]: 间隔必须大于 0 秒")
            entries.append(Entry(name, every_seconds=seconds))
        else:
            raise ScheduleError(
                f'XUEJI_SCHEDULE[{name!r}]: 无法识别 {spec!r}（应为 "daily HH:MM" 或 "every Ns"）'
            )
    return entries
