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


def row_cells(ws: Any, values: Any, formats: dict[int, str]) -> list[Any]:
    """One row of the write-only sheet ``ws``: a value whose column has a number format (dates, times) gets it;
    text always goes through :func:`safe_cell`, formatted column or not."""
    from openpyxl.cell import WriteOnlyCell  # noqa: PLC0415 - openpyxl loaded only when a file is written

    out: list[Any] = []
    for index, value in enumerate(values):
        fmt = formats.get(index)
        if fmt is not None and value is not None and not isinstance(value, str):
            cell = WriteOnlyCell(ws, value=value)
            cell.number_format = fmt
            out.append(cell)
        else:
            out.append(safe_cell(ws, value))
    return out
