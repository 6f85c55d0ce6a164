"""Read CSV, TSV, gzip and Parquet files as a stream of raw Arrow batches.

Nothing holds a whole file in memory: delimited text is parsed by pyarrow's streaming reader a
block at a time, Parquet a row group at a time. A row that cannot be split into the header's
fields (too many fields, an unterminated quote) is kept as a row with a ``read_error`` and no
values, so validation quarantines that row alone; a row with too few fields is padded with
missing values, as spreadsheets write them. Bytes that are not UTF-8 become U+FFFD, which
validation rejects, naming the column. In a semicolon-delimited file, decimal commas in
numeric fields are read as decimal points, as the usual European spreadsheet export writes
them. A file damaged part-way (a truncated gzip) fails with one line that names it.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from musicrec_core.data import schema
from musicrec_core.data.sources.delimited import (
    IrregularRow,
    IrregularRows,
    Utf8Lines,
    sniff_delimiter,
)
from musicrec_core.data.sources.raw_batches import (
    BATCH_ROWS,
    ReadResult,
    SourceError,
    column_mapping,
    object_text,
    raw_batch,
    raw_schema,
)

SUPPORTED_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".parquet")
# Fields whose values are numbers, where a semicolon file may write a decimal comma.
NUMERIC_FIELDS = frozenset({schema.AGE, schema.PLAYS, *schema.TRACK_NUMERIC_COLUMNS})
_DECIMAL_COMMA = r"^([+-]?[0-9]*),([0-9]+)$"
_BLOCK_BYTES = 1 << 23
_HEADER_BYTES = 1 << 20


def is_supported(path: Path) -> bool:
    """True when the file name ends in a format the readers understand."""
    return path.name.lower().endswith(SUPPORTED_SUFFIXES)


class TableFile:
    """One users/tracks/plays file, checked on opening, read as raw batches on demand.

    ``names`` are the fields of a delimited text file that has no header line; its delimiter is
    then sniffed from the first line."""

    def __init__(
        self,
        path: Path,
        table: str,
        source_label: str | None = None,
        names: list[str] | None = None,
    ) -> None:
        self.path = path
        self.table = table
        self.label = source_label or str(path)
        self.names = names
        if not path.is_file():
            raise SourceError(f"{self.label}: not a file")
        if path.stat().st_size == 0:
            raise SourceError(f"{self.label}: the file is empty (0 bytes)")
        self.is_parquet = path.name.lower().endswith(".parquet")
        self.delimiter = ","
        self.header = self._parquet_header() if self.is_parquet else self._text_header()
        self.mapping, self.ignored_columns = column_mapping(self.header, table, self.label)

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Raw batches of every data row, in file order; raises SourceError if the file is
        damaged part-way (a truncated gzip, say)."""
        try:
            if self.is_parquet:
                yield from self._parquet_batches()
            else:
                yield from self._text_batches()
        except SourceError:
            raise
        except (OSError, EOFError, zlib.error, pa.ArrowException) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise SourceError(
                f"{self.label}: the file is damaged and cannot be read ({reason})"
            ) from exc

    # --- Parquet ----------------------------------------------------------------------------
    def _parquet_header(self) -> list[str]:
        try:
            return list(pq.ParquetFile(self.path).schema_arrow.names)
        except (OSError, pa.ArrowException) as exc:
            raise SourceError(f"{self.label}: not a readable Parquet file ({exc})") from exc

    def _parquet_batches(self) -> Iterator[pa.RecordBatch]:
        names = {self.header[i]: col for i, col in self.mapping.items()}
        done = 0
        for batch in pq.ParquetFile(self.path).iter_batches(BATCH_ROWS, columns=list(names)):
            columns = {names[name]: batch.column(name) for name in batch.schema.names}
            rows = np.arange(done + 1, done + batch.num_rows + 1)
            done += batch.num_rows
            yield raw_batch(columns, self.table, self.label, rows)

    # --- delimited text ---------------------------------------------------------------------
    def _open_text(self, n_fields: int | None = None) -> io.BufferedReader:
        opener = gzip.open if self.path.name.lower().endswith(".gz") else open
        handle = opener(self.path, "rb")
        return io.BufferedReader(Utf8Lines(handle, n_fields, self.delimiter), _BLOCK_BYTES)

    def _text_header(self) -> list[str]:
        try:
            with self._open_text() as stream:
                first = stream.peek(_HEADER_BYTES).split(b"\n", 1)[0]
        except (OSError, EOFError, zlib.error) as exc:
            raise SourceError(
                f"{self.label}: the file is damaged and cannot be read ({exc})"
            ) from exc
        header = first.decode("utf-8").rstrip("\r")
        if not header.strip():
            what = "first" if self.names else "header"
            raise SourceError(f"{self.label}: line 1: the {what} line is empty")
        self.delimiter = sniff_delimiter(header)
        if self.names:
            return list(self.names)
        return next(csv.reader([header], delimiter=self.delimiter))

    def _text_batches(self) -> Iterator[pa.RecordBatch]:
        header_lines = 0 if self.names else 1
        irregular = IrregularRows(len(self.header), self.delimiter, header_lines)
        names = [f"c{i}" for i in range(len(self.header))]
        wanted = {names[i]: col for i, col in self.mapping.items()}
        with self._open_text(len(self.header)) as stream:
            reader = pa_csv.open_csv(
                stream,
                read_options=pa_csv.ReadOptions(
                    use_threads=False,
                    block_size=_BLOCK_BYTES,
                    skip_rows=header_lines,
                    column_names=names,
                ),
                parse_options=pa_csv.ParseOptions(
                    delimiter=self.delimiter,
                    newlines_in_values=True,
                    ignore_empty_lines=True,
                    invalid_row_handler=irregular.handle,
                ),
                convert_options=pa_csv.ConvertOptions(
                    column_types={name: pa.string() for name in names},
                    include_columns=list(wanted),
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                    null_values=[],
                ),
            )
            next_row = 1
            for batch in reader:
                columns = {wanted[name]: batch.column(name) for name in batch.schema.names}
                rows, next_row = irregular.number_good_rows(batch.num_rows, next_row)
                yield from self._merged(columns, rows, irregular.take_before(next_row))
            yield from self._merged({}, np.empty(0, np.int64), irregular.take_before(None))

    def _merged(
        self, columns: dict[str, pa.Array], rows: np.ndarray, irregular: list[IrregularRow]
    ) -> Iterator[pa.RecordBatch]:
        """Good rows and the irregular ones among them, as batches in file order."""
        parts = [raw_batch(columns, self.table, self.label, rows)] if len(rows) else []
        if irregular:
            parts.append(self._irregular_batch(irregular))
        if len(parts) > 1:
            parts = pa.Table.from_batches(parts).sort_by(schema.SOURCE_ROW).to_batches()
        for part in parts:
            yield self._fix_decimals(part)

    def _irregular_batch(self, rows: list[IrregularRow]) -> pa.RecordBatch:
        padded = {
            col: pa.array(
                [r.fields[i] if r.fields and i < len(r.fields) else None for r in rows], pa.string()
            )
            for i, col in self.mapping.items()
        }
        errors = pa.array([r.error for r in rows], pa.string())
        return raw_batch(padded, self.table, self.label, np.array([r.row for r in rows]), errors)

    def _fix_decimals(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if self.delimiter != ";":
            return batch
        arrays = [
            pc.replace_substring_regex(batch.column(name), _DECIMAL_COMMA, r"\1.\2")
            if name in NUMERIC_FIELDS
            else batch.column(name)
            for name in batch.schema.names
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=batch.schema)


def read_table_file(path: Path, table: str, source_label: str | None = None) -> ReadResult:
    """Read one users/tracks/plays file into a raw pandas frame; raise SourceError if unusable.

    For small files and notebooks; the warehouse reads the same batches without a frame."""
    file = TableFile(path, table, source_label)
    return ReadResult(batches_frame(file.batches(), table), file.ignored_columns)


def batches_frame(batches: Iterable[pa.RecordBatch], table: str) -> pd.DataFrame:
    """Raw batches of ``table`` as one raw pandas frame, text as str or None."""
    frame = pa.Table.from_batches(list(batches), schema=raw_schema(table)).to_pandas()
    return object_text(frame)
