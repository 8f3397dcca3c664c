"""Tables: one row of a Parquet, JSONL or CSV file is one text item.

The text field's UTF-8 bytes are the blob; other columns become metadata (``--meta`` picks
them into ``extra``, ``--license-field`` gives a per-row license). Parquet is read in record
batches of the row groups a unit covers, so memory stays flat whatever the file's size.
Keys are ``<file path without extension>/<row number>.txt`` (or ``<id>.txt`` with
``--id-field``), the same on every run.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from mmvc.core.extras import require
from mmvc.core.modality import TEXT
from mmvc.errors import BadInputError
from mmvc.importers.base import Connector, Item, MetaTemplate, Rows, Skip, Unit, scalar_extra
from mmvc.importers.fsio import protocols

UNIT_ROWS = 32768
BATCH_ROWS = 2048
TABLE_SUFFIXES = {".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".tsv": "csv"}


def table_format(path: str) -> str | None:
    name = path.lower()
    for suffix in (".gz", ".zst", ".bz2"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    for suffix, fmt in TABLE_SUFFIXES.items():
        if name.endswith(suffix):
            return fmt
    return None


class TableConnector(Connector):
    """Shared by the three table formats; ``fmt`` picks the reader."""

    fmt = ""

    @property
    def text_field(self) -> str:
        if not self.options.text_field:
            raise BadInputError(f"importing {self.fmt} rows needs the column that holds the text", "pass --text-field NAME (e.g. --text-field text)")
        return self.options.text_field

    def columns(self) -> list[str]:
        o = self.options
        cols = [self.text_field] + [c for c in (o.id_field, o.license_field) if c] + list(o.meta_fields)
        return list(dict.fromkeys(cols))

    def plan(self) -> list[Unit]:
        units = []
        for path in self.paths:
            f = self.list_file(path)
            units.extend(self._plan_file(f))
        return units

    def _plan_file(self, f) -> list[Unit]:
        raise NotImplementedError

    def _missing(self, file: str, have: list[str]) -> None:
        missing = [c for c in self.columns() if c not in have]
        if missing:
            raise BadInputError(f"{file} has no column {missing[0]!r}" + (f" (nor {', '.join(map(repr, missing[1:]))})" if missing[1:] else ""),
                                f"its columns are: {', '.join(have[:30])}")

    def _key_base(self, path: str) -> str:
        rel = self.relative(path)
        fmt_name = rel
        for suffix in (".gz", ".zst", ".bz2"):
            if fmt_name.lower().endswith(suffix):
                fmt_name = fmt_name[: -len(suffix)]
        dot = fmt_name.rfind(".")
        return fmt_name[:dot] if dot > fmt_name.rfind("/") else fmt_name

    def _row_item(self, rel: str, key_base: str, row: int, record: dict, file) -> Item | Skip:
        o = self.options
        where = f"{rel} row {row}"
        text = record.get(self.text_field)
        if text is None:
            return Skip(where, f"the text field {self.text_field!r} is null")
        if not isinstance(text, str):
            return Skip(where, f"the text field {self.text_field!r} is a {type(text).__name__}, not a string")
        if o.id_field:
            ident = record.get(o.id_field)
            if ident is None or ident == "":
                return Skip(where, f"the id field {o.id_field!r} is empty")
            key = f"{ident}.txt"
        else:
            key = f"{key_base}/{row:08d}.txt"
        meta = self.base_meta({"file": rel, "row": row}, file)
        if o.license_field:
            lic = record.get(o.license_field)
            if isinstance(lic, str) and lic:
                meta["license"] = lic
        if o.meta_fields:
            meta["extra"] = scalar_extra(record, o.meta_fields)
        data = text.encode("utf-8")
        return Item(key, TEXT, meta, {"file": rel, "row": row}, data=data, size=len(data))


class ParquetConnector(TableConnector):
    name = "parquet"
    fmt = "parquet"
    preload = ("numpy", "pyarrow.parquet", "pyarrow.compute")

    def __init__(self, *args, **kw):
        require("catalog", "pyarrow", what="mmvc import parquet")
        super().__init__(*args, **kw)

    def _open(self, path: str):
        import pyarrow.parquet as pq

        # Unbuffered, small reads: whole-row-group pre-buffering triples peak memory for no gain
        # on a local disk.
        if "file" in protocols(self.fs):
            return pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)
        return pq.ParquetFile(self.fs.open(path, "rb"))

    def _plan_file(self, f) -> list[Unit]:
        try:
            pf = self._open(f.path)
        except Exception as e:  # noqa: BLE001 — pyarrow raises several kinds for a bad file
            raise BadInputError(f"{f.path} is not a readable Parquet file ({e})", "check the file; --text-field names a column of it") from None
        self._missing(f.path, pf.schema_arrow.names)
        units, rows, row0 = [], 0, 0
        groups: list[int] = []
        md = pf.metadata
        for g in range(md.num_row_groups):
            n = md.row_group(g).num_rows
            if groups and rows + n > UNIT_ROWS:
                units.append(Unit(f"{f.path}#{groups[0]}-{groups[-1]}", rows, {"row_groups": groups, "row0": row0}, (f,)))
                row0 += rows
                groups, rows = [], 0
            groups.append(g)
            rows += n
        if groups:
            units.append(Unit(f"{f.path}#{groups[0]}-{groups[-1]}", rows, {"row_groups": groups, "row0": row0}, (f,)))
        return units

    def read(self, unit: Unit, wanted: Callable[[int], bool]) -> Iterator[Rows | Skip]:
        """Batches straight from Arrow buffers: each text is a zero-copy slice of the column's
        data buffer, and each row's metadata is spliced into a per-file template."""
        import numpy as np
        import pyarrow as pa

        f = unit.files[0]
        pf = self._open(f.path)
        rel, base = self.relative(f.path), self._key_base(f.path)
        o = self.options
        tf = self.text_field
        cols = self.columns()
        template = self.template(rel, f, per_row_license=False)
        template_lic = self.template(rel, f, per_row_license=True) if o.license_field else None
        json_scalar, encode_str = _json_scalar, _encode_str
        i = 0
        row0 = unit.spec["row0"]
        for batch in _batches(pf, unit.spec["row_groups"], cols):
            n = batch.num_rows
            if getattr(wanted, "everything", False):
                picks: range | list[int] = range(n)
            else:
                picks = [j for j in range(n) if wanted(i + j)]
            if not picks:
                i += n
                continue
            text = batch.column(tf)
            if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
                raise BadInputError(f"{rel}: the text field {tf!r} holds {text.type}, not strings", "pick a string column with --text-field")
            bufs = text.buffers()
            wide = pa.types.is_large_string(text.type)
            offs = np.frombuffer(bufs[1], dtype=np.int64 if wide else np.int32)[text.offset : text.offset + n + 1].tolist()
            data = memoryview(bufs[2]) if bufs[2] is not None else memoryview(b"")
            nulls = text.is_null().to_numpy(zero_copy_only=False) if text.null_count else None
            other = {c: batch.column(c).to_pylist() for c in cols if c != tf}
            ids = other.get(o.id_field) if o.id_field else None
            lics = other.get(o.license_field) if o.license_field else None
            extra_cols = [(encode_str(c), other[c]) for c in sorted(o.meta_fields)] if o.meta_fields else None
            if nulls is None and ids is None and lics is None and isinstance(picks, range):
                fast = _whole_batch(batch, base, row0 + i, offs, data, template, sorted(o.meta_fields))
                if fast is not None:
                    yield Rows(*fast, TEXT)
                    i += n
                    continue
            keys, datas, metas = [], [], []
            render, render_lic = template.render_values, template_lic.render_values if template_lic else None
            for j in picks:
                row = row0 + i + j
                if nulls is not None and nulls[j]:
                    yield Skip(f"{rel} row {row}", f"the text field {tf!r} is null")
                    continue
                if ids is not None:
                    ident = ids[j]
                    if ident is None or ident == "":
                        yield Skip(f"{rel} row {row}", f"the id field {o.id_field!r} is empty")
                        continue
                    keys.append(f"{ident}.txt")
                else:
                    keys.append(f"{base}/{row:08d}.txt")
                datas.append(data[offs[j] : offs[j + 1]])
                values = []  # slot order: extra, license, row (the canonical key order)
                if extra_cols is not None:
                    values.append("{" + ",".join([f"{name}:{v}" for name, vals in extra_cols if (v := json_scalar(vals[j])) is not None]) + "}")
                lic = lics[j] if lics is not None else None
                if isinstance(lic, str) and lic:
                    assert render_lic is not None  # a license column comes with its template
                    values.append(encode_str(lic))
                    values.append(str(row))
                    metas.append(render_lic(values))
                else:
                    values.append(str(row))
                    metas.append(render(values))
            if keys:
                yield Rows(keys, datas, metas, TEXT)
            i += n

    def template(self, rel: str, f, per_row_license: bool) -> MetaTemplate:
        meta = self.base_meta({"file": rel, "row": MetaTemplate.slot("row")}, f)
        if per_row_license:
            meta["license"] = MetaTemplate.slot("license")
        if self.options.meta_fields:
            meta["extra"] = MetaTemplate.slot("extra")
        t = MetaTemplate(meta)
        if t.names != [n for n in ("extra", "license", "row") if n in t.names]:
            raise AssertionError(f"metadata slots out of order: {t.names}")  # read() fills them in this order
        return t


def _whole_batch(batch, base: str, row0: int, offs: list[int], data, template: MetaTemplate,
                 meta_fields: list[str]) -> tuple[list[str], list, list[str]] | None:
    """(keys, datas, metas) of every row of a batch with no nulls, column at a time; None where a
    ``--meta`` column holds something that needs the row-by-row path (nulls, NaN, non-scalars)."""
    rows = range(row0, row0 + batch.num_rows)
    parts = template.parts
    if meta_fields:
        cols = []
        for name in meta_fields:
            texts = _json_column(batch.column(name))
            if texts is None:
                return None
            pre = _encode_str(name) + ":"
            cols.append([pre + t for t in texts])
        extras = ["{" + ",".join(x) + "}" for x in zip(*cols)] if len(cols) > 1 else ["{" + x + "}" for x in cols[0]]
        if len(parts) != 3:
            return None
        p0, p1, p2 = parts
        metas = [f"{p0}{e}{p1}{r}{p2}" for e, r in zip(extras, rows)]
    else:
        if len(parts) != 2:
            return None
        p0, p1 = parts
        metas = [f"{p0}{r}{p1}" for r in rows]
    keys = [f"{base}/{r:08d}.txt" for r in rows]
    datas = [data[a:b] for a, b in zip(offs, offs[1:])]
    return keys, datas, metas


def _json_column(col) -> list[str] | None:
    """Each value of an Arrow column as canonical JSON text (what ``_json_scalar`` gives), for the
    column types that need no per-value checks; None otherwise."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if col.null_count:
        return None
    t = col.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return list(map(_encode_str_c(), col.to_pylist()))
    if pa.types.is_boolean(t):
        return ["true" if v else "false" for v in col.to_pylist()]
    if pa.types.is_integer(t):
        return list(map(int.__repr__, col.to_pylist()))
    if pa.types.is_floating(t):
        if len(col) and not pc.all(pc.is_finite(col)).as_py():
            return None
        return list(map(float.__repr__, col.to_pylist()))
    return None


def _encode_str_c():
    from json.encoder import encode_basestring

    return encode_basestring


def _batches(pf, row_groups: list[int], cols: list[str]):
    """Record batches one row group at a time, handing Arrow's freed pages back after each, so
    memory stays at about one row group whatever the file's size."""
    import pyarrow as pa

    for g in row_groups:
        # one thread: the import already runs a reader per core, and Arrow's decoding threads
        # would hold several column pages in memory at once (~30 MB more per reader)
        yield from pf.iter_batches(batch_size=BATCH_ROWS, row_groups=[g], columns=cols, use_threads=False)
        pa.default_memory_pool().release_unused()


def _encode_str(v: str) -> str:
    from json.encoder import encode_basestring

    return encode_basestring(v)


_INF = (float("inf"), float("-inf"))


def _json_scalar(v) -> str | None:
    """A value of ``extra`` as canonical JSON text (what ``canonical_json`` writes for it), None
    where ``scalar_extra`` would drop it."""
    if v is None:
        return "null"
    t = type(v)
    if t is str:
        return _encode_str(v)
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return int.__repr__(v)
    if t is float:
        return float.__repr__(v) if v == v and v not in _INF else None
    return None


CSV_FIELD_LIMIT = 256 << 20  # one cell: a long document fits, a file without line ends does not exhaust memory


@contextmanager
def _readable(rel: str, fmt: str):
    """Turn what a damaged or foreign file makes the readers raise into one BadInputError naming it."""
    import zlib

    try:
        yield
    except UnicodeDecodeError as e:
        raise BadInputError(f"{rel} is not UTF-8 text (byte 0x{e.object[e.start]:02x} cannot be decoded)",
                            "convert it to UTF-8 (e.g. `iconv -f latin1 -t utf-8`), or leave it out") from None
    except csv.Error as e:
        raise BadInputError(f"{rel} is not valid {fmt}: {e}", "fix the file, or leave it out") from None
    except (EOFError, zlib.error, OSError) as e:
        if isinstance(e, OSError) and e.errno is not None:  # the storage failing, not the file's bytes
            raise
        raise BadInputError(f"{rel} is truncated or not a valid compressed file ({e or type(e).__name__})",
                            "fetch or compress it again, or leave it out") from None


def _text_stream(fs, path: str):
    """A text stream of a (possibly compressed) file of the source; a UTF-8 byte-order mark (as
    Excel writes one at the start of a CSV) is dropped, not read as part of the first field."""
    comp = None
    for suffix, c in ((".gz", "gzip"), (".zst", "zstd"), (".bz2", "bz2")):
        if path.lower().endswith(suffix):
            comp = c
    raw = fs.open(path, "rb", compression=comp)
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


class JsonlConnector(TableConnector):
    name = "jsonl"
    fmt = "JSONL"

    def _plan_file(self, f) -> list[Unit]:
        n = 0
        with _readable(self.relative(f.path), self.fmt), _text_stream(self.fs, f.path) as t:
            for _ in t:
                n += 1
        return [Unit(f.path, n, {}, (f,))]

    def read(self, unit: Unit, wanted: Callable[[int], bool]) -> Iterator[Item | Skip]:
        f = unit.files[0]
        rel, base = self.relative(f.path), self._key_base(f.path)
        checked = False
        with _readable(rel, self.fmt), _text_stream(self.fs, f.path) as t:
            for i, line in enumerate(t):
                if not wanted(i):
                    continue
                if not line.strip():
                    yield Skip(f"{rel} line {i + 1}", "blank line")
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as e:
                    raise BadInputError(f"{rel} is not valid JSONL: {e.msg} at line {i + 1} column {e.colno}",
                                        "fix or drop that line; each line must be one JSON object") from None
                if not isinstance(record, dict):
                    yield Skip(f"{rel} line {i + 1}", f"not a JSON object but a {type(record).__name__}")
                    continue
                if not checked:
                    checked = True
                    if self.text_field not in record:
                        raise BadInputError(f"{rel} has no field {self.text_field!r} (first object, line {i + 1})",
                                            f"its fields are: {', '.join(list(record)[:30])}")
                yield self._row_item(rel, base, i, record, f)


class CsvConnector(TableConnector):
    name = "csv"
    fmt = "CSV"

    def _reader(self, t, path: str):
        if csv.field_size_limit() < CSV_FIELD_LIMIT:
            csv.field_size_limit(CSV_FIELD_LIMIT)
        return csv.DictReader(t, delimiter="\t" if ".tsv" in path.lower() else ",")

    def _plan_file(self, f) -> list[Unit]:
        n = 0
        with _readable(self.relative(f.path), self.fmt), _text_stream(self.fs, f.path) as t:
            r = self._reader(t, f.path)
            self._missing(f.path, list(r.fieldnames or []))
            for _ in r:
                n += 1
        return [Unit(f.path, n, {}, (f,))]

    def read(self, unit: Unit, wanted: Callable[[int], bool]) -> Iterator[Item | Skip]:
        f = unit.files[0]
        rel, base = self.relative(f.path), self._key_base(f.path)
        with _readable(rel, self.fmt), _text_stream(self.fs, f.path) as t:
            for i, record in enumerate(self._reader(t, f.path)):
                if wanted(i):
                    yield self._row_item(rel, base, i, record, f)


__all__ = ["ParquetConnector", "JsonlConnector", "CsvConnector", "table_format"]
