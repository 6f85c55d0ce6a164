"""Delimited text read as a stream: UTF-8 repaired on the way, one record per line, and the
rows the parser cannot take (too few or too many fields, an unmatched quote) collected with
their row numbers, so each costs only itself."""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass

import numpy as np
import pyarrow.csv as pa_csv

_DELIMITERS = ",\t;|"
_CHUNK_BYTES = 1 << 20
_SHOWN_CHARS = 200
# Private-use characters that mark a line with an unmatched quote on its way through the parser.
_OPEN_QUOTE_MARK = "\ue000"
_QUOTE_STAND_IN = "\ue001"


@dataclass
class IrregularRow:
    """A row the streaming parser could not take as it is: padded fields, or why it failed."""

    row: int
    fields: list[str] | None
    error: str | None


class IrregularRows:
    """Collects the rows pyarrow's parser hands back (too few or too many fields, a line with
    an unterminated quote) and numbers the good rows around them."""

    def __init__(self, n_fields: int, delimiter: str, header_lines: int = 1) -> None:
        self.n_fields = n_fields
        self.delimiter = delimiter
        self.header_lines = header_lines
        self.pending: list[IrregularRow] = []

    def handle(self, row: pa_csv.InvalidRow) -> str:
        data_row = row.number - self.header_lines  # the parser counts a header line as row 1
        text = row.text or ""
        if text.startswith(_OPEN_QUOTE_MARK):
            line = text[len(_OPEN_QUOTE_MARK) : -self.n_fields].replace(_QUOTE_STAND_IN, '"')
            self.pending.append(
                IrregularRow(data_row, None, f"row {data_row}: unterminated quote: {_shown(line)}")
            )
        elif row.actual_columns > row.expected_columns:
            self.pending.append(
                IrregularRow(
                    data_row,
                    None,
                    f"row {data_row} has {row.actual_columns} fields where "
                    f"{'the header has' if self.header_lines else 'the file has'} "
                    f"{row.expected_columns}: {_shown(text)}",
                )
            )
        else:
            fields = next(csv.reader([text], delimiter=self.delimiter), [])
            self.pending.append(IrregularRow(data_row, fields, None))
        return "skip"

    def number_good_rows(self, count: int, first: int) -> tuple[np.ndarray, int]:
        """The data rows of the next ``count`` good rows from ``first`` on, and the row after."""
        taken = {r.row for r in self.pending}
        candidates = np.arange(first, first + count + len(taken))
        if taken:
            candidates = candidates[~np.isin(candidates, list(taken))]
        rows = candidates[:count]
        return rows, int(rows[-1]) + 1 if count else first

    def take_before(self, row: int | None) -> list[IrregularRow]:
        """The irregular rows numbered below ``row`` (all of them for None), in file order."""
        chosen = [r for r in self.pending if row is None or r.row < row]
        self.pending = [r for r in self.pending if r not in chosen]
        return sorted(chosen, key=lambda r: r.row)


class Utf8Lines(io.RawIOBase):
    """A byte stream re-encoded as valid UTF-8: undecodable bytes become U+FFFD, a leading
    byte-order mark is dropped.

    With ``n_fields``, every record is one line: a quoted value may hold the delimiter but not
    a line break, so a line with an unmatched quote cannot swallow the lines after it. Such a
    line is rewritten so the parser reports it as a bad row of its own (see ``IrregularRows``).
    """

    def __init__(
        self, handle: io.IOBase, n_fields: int | None = None, delimiter: str = ","
    ) -> None:
        self.handle = handle
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.buffer = b""
        self.tail = b""  # an incomplete last line, held back until its end arrives
        self.started = False
        self.finished = False
        self.padding = (delimiter * n_fields).encode() if n_fields else b""

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self.buffer and not self.finished:
            chunk = self.handle.read(_CHUNK_BYTES)
            text = self.decoder.decode(chunk, final=not chunk)
            self.finished = not chunk
            if not self.started and text:
                text = text.removeprefix("\ufeff")
                self.started = True
            self.buffer = self._guard(text.encode("utf-8"))
        size = min(len(target), len(self.buffer))
        target[:size] = self.buffer[:size]
        self.buffer = self.buffer[size:]
        return size

    def _guard(self, data: bytes) -> bytes:
        """Whole lines of ``tail + data`` with each unmatched-quote line marked."""
        if not self.padding:
            return data
        data = self.tail + data
        cut = len(data) if self.finished else data.rfind(b"\n") + 1
        data, self.tail = data[:cut], data[cut:]
        if not data.count(b'"'):
            return data
        lines = data.split(b"\n")
        for i, line in enumerate(lines):
            if line.count(b'"') % 2:
                stand_in = line.replace(b'"', _QUOTE_STAND_IN.encode())
                lines[i] = _OPEN_QUOTE_MARK.encode() + stand_in + self.padding
        return b"\n".join(lines)

    def close(self) -> None:
        self.handle.close()
        super().close()


def _shown(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "..."


def sniff_delimiter(header: str) -> str:
    try:
        return csv.Sniffer().sniff(header, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","
