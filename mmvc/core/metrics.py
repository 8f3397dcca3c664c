"""Metrics files as people already have them, read into the flat name → number map an eval holds.

Shapes: JSON (flat, or nested and flattened with dots), mmvc's own ``{"metrics": {...},
"better": {...}}`` (what ``mmvc eval show --json`` prints), lm-evaluation-harness results
(``{"results": {task: {"acc,none": 0.5, …}}, "higher_is_better": …}``), and CSV rows of
``name,value[,higher|lower]`` with an optional header. Anything else is refused with one line
naming the file and the entry, never half-read: NaN and infinities, a value that is not a
number, the same name twice, a file too large to be a summary of metrics.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from mmvc.core.evals import DIRECTIONS
from mmvc.errors import BadInputError

MAX_METRICS_BYTES = 8 << 20
FORMATS = ("auto", "json", "csv")
_HINT = "a metrics file maps names to numbers: JSON such as {\"acc\": 0.71}, lm-eval's results JSON, or CSV rows name,value"


@dataclass
class Metrics:
    values: dict[str, float]
    better: dict[str, str] = field(default_factory=dict)
    shape: str = "json"  # json | mmvc | lm-eval | csv | mapping


def read_metrics_file(path: str, fmt: str = "auto") -> Metrics:
    """Read ``path``; ``fmt`` auto picks CSV for ``.csv``/``.tsv`` names and JSON otherwise."""
    try:
        size = os.path.getsize(path)
        if size > MAX_METRICS_BYTES:
            raise _too_large(path, size)
        with open(path, "rb") as f:
            data = f.read(MAX_METRICS_BYTES + 1)
    except FileNotFoundError:
        raise BadInputError(f"metrics file {path} does not exist", "give the path of a JSON or CSV file, or - to read standard input") from None
    except IsADirectoryError:
        raise BadInputError(f"metrics file {path} is a folder", "give the path of a JSON or CSV file") from None
    except OSError as e:
        raise BadInputError(f"cannot read metrics file {path}: {e.strerror or e}", "check the file's permissions") from None
    if fmt == "auto":
        fmt = "csv" if path.lower().endswith((".csv", ".tsv")) else "json"
    return parse_metrics(data, path, fmt)


def parse_metrics(data: bytes, source: str = "standard input", fmt: str = "json") -> Metrics:
    if fmt not in FORMATS:
        raise BadInputError(f"unknown metrics format {fmt!r}", f"use one of {', '.join(FORMATS)}")
    if len(data) > MAX_METRICS_BYTES:
        raise _too_large(source, len(data))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInputError(f"metrics file {source} is not UTF-8 text", _HINT) from None
    if fmt == "csv":
        m = _from_csv(text, source)
    else:
        m = _from_json(text, source)
    if not m.values:
        raise BadInputError(f"metrics file {source} holds no metrics", _HINT)
    return m


def from_mapping(metrics: dict, better: dict | None = None, source: str = "metrics") -> Metrics:
    """A Python mapping (nested or flat) under the same rules as a JSON file."""
    values: dict[str, float] = {}
    _flatten(metrics, "", values, source)
    if not values:
        raise BadInputError(f"{source} holds no metrics", _HINT)
    return Metrics(values, _directions(better or {}, values, source), "mapping")


def _too_large(source: str, size: int) -> BadInputError:
    return BadInputError(f"metrics file {source} is {size:,} bytes, more than the {MAX_METRICS_BYTES >> 20} MiB a metrics file may have",
                         "pass the summary of the evaluation (name → number), not per-sample outputs "
                         "(lm-eval: the results_*.json file, not the samples_*.jsonl)")


def _number(v, name: str, source: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        shown = repr(v) if not isinstance(v, (dict, list)) else ("a list" if isinstance(v, list) else "an object")
        raise BadInputError(f"metrics file {source}: metric {name!r} is not a number ({shown[:60]})",
                            "every metric must be a number; drop the entry or move text into --notes")
    f = float(v)
    if not math.isfinite(f):
        raise BadInputError(f"metrics file {source}: metric {name!r} is {f} (not a finite number)",
                            "drop the entry, or fix the evaluation that produced it")
    return f


def _put(out: dict, name: str, value: float, source: str) -> None:
    if not name:
        raise BadInputError(f"metrics file {source}: a metric has an empty name", "name every metric")
    if name in out:
        raise BadInputError(f"metrics file {source}: metric {name!r} appears twice", "keep one value per name (several runs are several evals)")
    out[name] = value


def _flatten(doc, prefix: str, out: dict, source: str) -> None:
    if not isinstance(doc, dict):
        raise BadInputError(f"metrics file {source} is not a JSON object of metrics", _HINT)
    for k, v in doc.items():
        name = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            _flatten(v, name, out, source)
        else:
            _put(out, name, _number(v, name, source), source)


def _directions(better: dict, values: dict, source: str) -> dict[str, str]:
    out = {}
    for k, v in better.items():
        d = ("higher" if v else "lower") if isinstance(v, bool) else v
        if d not in DIRECTIONS:
            raise BadInputError(f"metrics file {source}: direction {v!r} of metric {k!r} is neither 'higher' nor 'lower'",
                                "write \"higher\" or \"lower\" (or true/false for higher-is-better)")
        if k in values:
            out[k] = d
    return out


def _from_json(text: str, source: str) -> Metrics:
    import json

    def pairs(items):
        d: dict = {}
        for k, v in items:
            if k in d:
                raise BadInputError(f"metrics file {source}: key {k!r} appears twice in one object",
                                    "keep one value per name (several runs are several evals)")
            d[k] = v
        return d

    def constant(name):
        raise BadInputError(f"metrics file {source} holds {name}, which is not a number", "drop the entry, or fix the evaluation that produced it")

    try:
        doc = json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except ValueError as e:
        raise BadInputError(f"metrics file {source} is not valid JSON ({e})",
                            "for a CSV file of name,value rows, name it .csv or pass --format csv") from None
    if not isinstance(doc, dict):
        raise BadInputError(f"metrics file {source} is not a JSON object of metrics", _HINT)
    results = doc.get("results")
    if isinstance(results, dict) and results and all(isinstance(v, dict) for v in results.values()) \
            and any(k in doc for k in ("versions", "config", "configs", "higher_is_better", "n-shot")):
        return _from_lm_eval(doc, source)
    if isinstance(doc.get("metrics"), dict) and set(doc) <= {"metrics", "better"}:
        values: dict[str, float] = {}
        _flatten(doc["metrics"], "", values, source)
        return Metrics(values, _directions(doc.get("better") or {}, values, source), "mmvc")
    values = {}
    _flatten(doc, "", values, source)
    return Metrics(values, {}, "json")


def _lm_eval_name(task: str, key: str) -> tuple[str, str]:
    """``("mmlu", "acc,none")`` → ``("mmlu.acc", "acc")``; another filter stays: ``gsm8k.exact_match/strict-match``."""
    metric, _, filt = key.partition(",")
    return f"{task}.{metric}" + (f"/{filt}" if filt and filt != "none" else ""), metric


def _from_lm_eval(doc: dict, source: str) -> Metrics:
    values: dict[str, float] = {}
    base: dict[str, str] = {}
    for task, res in doc["results"].items():
        for key, v in res.items():
            if key == "alias" or (isinstance(v, str) and "_stderr" in key):
                continue  # the task's display name; a stderr lm-eval could not compute ("N/A")
            name, metric = _lm_eval_name(task, key)
            _put(values, name, _number(v, name, source), source)
            base[name] = f"{task}.{metric}"
    hib = doc.get("higher_is_better")
    better: dict[str, str] = {}
    if isinstance(hib, dict):
        flat = {f"{t}.{m}": d for t, ms in hib.items() if isinstance(ms, dict) for m, d in ms.items() if isinstance(d, bool)}
        for name, b in base.items():
            if b in flat and "_stderr" not in name:
                better[name] = "higher" if flat[b] else "lower"
    return Metrics(values, better, "lm-eval")


def _from_csv(text: str, source: str) -> Metrics:
    import csv

    delimiter = "\t" if source.lower().endswith(".tsv") else ","
    values: dict[str, float] = {}
    better: dict[str, str] = {}
    rows = [(n, r) for n, r in enumerate(csv.reader(text.splitlines(), delimiter=delimiter), 1) if r and any(c.strip() for c in r)]
    for i, (line, row) in enumerate(rows):
        cells = [c.strip() for c in row]
        if len(cells) not in (2, 3):
            raise BadInputError(f"metrics file {source}, line {line}: {len(cells)} columns where name,value[,higher|lower] was expected",
                                "write one metric per line: name,value (a third column may say higher or lower)")
        name, raw = cells[0], cells[1]
        try:
            value = float(raw)
        except ValueError:
            if i == 0:
                continue  # a header row
            raise BadInputError(f"metrics file {source}, line {line}: metric {name!r} is not a number ({raw[:60]!r})",
                                "every metric must be a number; drop the row") from None
        if not math.isfinite(value):
            raise BadInputError(f"metrics file {source}, line {line}: metric {name!r} is {raw!r} (not a finite number)",
                                "drop the row, or fix the evaluation that produced it")
        _put(values, name, value, f"{source}, line {line}")
        if len(cells) == 3 and cells[2]:
            better.update(_directions({name: cells[2].lower()}, values, f"{source}, line {line}"))
    return Metrics(values, better, "csv")
