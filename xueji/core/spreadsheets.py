"""Spreadsheet cells we write (roster, problems, ledger exports): text that Excel would read as a formula
(``=``, ``+``, ``-``, ``@``: CSV/formula injection) is stored as a string cell. No domain code."""

from __future__ import annotations

from typing import Any

FORMULA_START = ("=", "+", "-", "@")


def safe_cell(ws: Any, value: Any) -> Any:
    """``value`` as a cell of the write-only sheet ``ws`` that can never become a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        from openpyxl.cell import WriteOnlyCell  # noqa: PLC0415 - openpyxl loaded only when a file is written

        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"
        return cell
    return value
