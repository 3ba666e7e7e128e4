"""The export workbook: data sheets and a "说明" sheet, every sheet watermarked in its header and footer with
the requester's name, the request id and the time the file was made (第24条: an export names who took it).

Written with openpyxl's write-only mode (rows streamed, memory flat); text a spreadsheet would run as a formula
is written as plain text (:func:`xueji.core.spreadsheets.safe_cell`).

Write-only mode spills every sheet to a temporary file until the workbook is saved — the plaintext of the export.
Those files go to ``spill_dir`` (0700, under the exports directory; 0600 each), never to the system's temporary
directory, and :meth:`Book.discard` removes whatever a failed build left there.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from xueji.core.spreadsheets import row_cells, safe_cell


def _escape(text: str) -> str:
    return text.replace("&", "&&")  # "&" starts a header/footer code in SpreadsheetML


class Book:
    def __init__(self, watermark: str, spill_dir: Path) -> None:
        from openpyxl import Workbook  # noqa: PLC0415 - openpyxl loaded only when a file is written

        self.wb = Workbook(write_only=True)
        self.watermark = watermark
        self.spill_dir = spill_dir
        self.spills: list[str] = []

    def _spill(self, ws: Any) -> None:
        """Give the sheet its spill file in ``spill_dir`` before openpyxl would make one in the system's
        temporary directory (``WriteOnlyWorksheet._get_writer``, at the first row). Called once the sheet's
        widths and panes are set: the writer writes them at its start."""
        from openpyxl.worksheet import _writer  # noqa: PLC0415

        fd, name = tempfile.mkstemp(prefix="sheet.", suffix=".xml", dir=self.spill_dir)
        os.close(fd)
        self.spills.append(name)
        _writer.ALL_TEMP_FILES.append(name)  # openpyxl removes it from this list once the sheet is saved
        ws._writer = _writer.WorksheetWriter(ws, out=name)
        ws._writer.write_top()

    def discard(self) -> None:
        """Remove the spill files still on disk (a build that failed before :meth:`save`)."""
        from openpyxl.worksheet import _writer  # noqa: PLC0415

        for ws in self.wb.worksheets:  # stop the sheets' writers first (their files are about to go)
            for gen in (getattr(ws, "_rows", None), getattr(getattr(ws, "_writer", None), "xf", None)):
                if gen is not None:
                    with contextlib.suppress(Exception):
                        gen.close()
        for name in self.spills:
            Path(name).unlink(missing_ok=True)
            if name in _writer.ALL_TEMP_FILES:
                _writer.ALL_TEMP_FILES.remove(name)
        self.spills = []

    def _sheet(self, title: str, widths: Sequence[int]) -> Any:
        from openpyxl.utils import get_column_letter  # noqa: PLC0415

        ws = self.wb.create_sheet(title[:31])
        for index, width in enumerate(widths):
            ws.column_dimensions[get_column_letter(index + 1)].width = width
        mark = _escape(self.watermark)
        ws.oddHeader.center.text = mark
        ws.oddFooter.center.text = mark
        ws.evenHeader.center.text = mark
        ws.evenFooter.center.text = mark
        return ws

    def table(
        self,
        title: str,
        headers: Sequence[str],
        rows: Iterable[Sequence[Any]],
        *,
        widths: Sequence[int] | None = None,
        formats: dict[int, str] | None = None,
    ) -> int:
        """One sheet: a frozen bold header, an autofilter, the rows; returns the number of data rows."""
        from openpyxl.cell import WriteOnlyCell  # noqa: PLC0415
        from openpyxl.styles import Font  # noqa: PLC0415
        from openpyxl.utils import get_column_letter  # noqa: PLC0415

        ws = self._sheet(title, widths or [14] * len(headers))
        ws.freeze_panes = "A2"
        self._spill(ws)
        bold = Font(bold=True)
        head = []
        for text in headers:
            cell = WriteOnlyCell(ws, value=str(text))
            cell.font = bold
            head.append(cell)
        ws.append(head)
        count = 0
        fmts = formats or {}
        for values in rows:
            ws.append(row_cells(ws, values, fmts))
            count += 1
        ws.auto_filter.ref = f"A1:{get_column_letter(max(len(headers), 1))}{count + 1}"
        return count

    def notes(self, title: str, lines: Sequence[tuple[str, str]]) -> None:
        ws = self._sheet(title, [22, 90])
        self._spill(ws)
        for label, value in lines:
            ws.append([safe_cell(ws, label), safe_cell(ws, value)])

    def save(self, target: Path) -> None:
        self.wb.save(target)
