"""Deploy check of encryption at rest (issue 11 §3): ``manage.py check --deploy --database default`` reports
``xueji.E103`` while rows written before encryption at rest are still in clear (their blind indexes empty) — the
search by 学籍号, ID number or phone, the identity check rule and the disability statistics miss them until
``manage.py data_keys encrypt`` has run. Like Django's own database checks it reads the database only when asked
(``--database``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core import checks
from django.db import DatabaseError, connections

from .fieldcrypto import needs_upgrade


@checks.register(checks.Tags.security, deploy=True)
def nothing_left_in_clear(
    app_configs: Any = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[Any]:
    errors: list[Any] = []
    for alias in databases or ():
        if alias != "default" or alias not in connections:
            continue
        try:
            left = needs_upgrade()
        except DatabaseError:
            continue  # not migrated yet: nothing to check
        if left:
            errors.append(
                checks.Error(
                    "数据库中仍有加密存储启用前写入的明文个人信息（盲索引为空）",
                    hint="运行 manage.py data_keys encrypt（分批加密存量数据并补齐盲索引），见 docs/encryption.md。",
                    id="xueji.E103",
                )
            )
    return errors
