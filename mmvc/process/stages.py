"""User-defined process stages: the public stage contract, loading stages named by the
repository config, running them like the built-in stages, and the ``reject_if`` gates on their
outputs (docs/process.md, "Writing a stage").

A stage is a plain class (no base class to import, so a stage package does not depend on
mmvc): ``name``, ``version``, ``modalities``, ``outputs`` (column → Arrow type name), optional
``inputs``, ``resources`` and ``batch_size``, and ``__call__(batch) -> {output: [one value per
row]}``. It is built once per worker (once in the driver for small runs) with the settings of
``[process.stage.NAME]`` as keyword arguments, so a model loads once and batches flow through it.

Its results are features like any other: cached per blob under ``stage_key`` of (stage name,
version, settings, outputs, inputs), so bumping one stage's version recomputes that stage alone.
An exception on an item is that item's verdict (``rejected``, reason ``stage_error``); a stage
that breaks the contract (a missing output, a wrong length or type) stops the run naming it:
that is a bug in the stage, not a fact about the data.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from mmvc.core.modality import MODALITIES, modality_name
from mmvc.errors import FormatError, StageError

CONTRACT_VERSION = 1  # the stage API's version (docs/process.md); bump only on an incompatible change
ENTRY_POINT_GROUP = "mmvc.stages"
CACHE_PREFIX = "stage."  # a stage's feature cache and config-document key: "stage.<name>"
OUTPUT_TYPES = ("bool", "int32", "int64", "float32", "float64", "string")
INPUTS = ("text", "bytes", "pixels")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
BUILTIN = {  # the stages mmvc ships (mmvc.process.builtin_stages), named like entry points
    "text_quality": "mmvc.process.builtin_stages:TextQuality",
    "audio_silence": "mmvc.process.builtin_stages:AudioSilence",
}


@dataclass(frozen=True)
class StageSpec:
    """What the config and the catalog need to know of a stage, read from its class attributes."""

    ref: str  # as written in [process] stages
    target: str  # "module:Class"
    name: str
    version: str
    modalities: tuple
    outputs: dict
    inputs: tuple
    num_cpus: float
    num_gpus: float
    batch_size: int
    settings: dict = field(default_factory=dict)

    @property
    def cache(self) -> str:
        return CACHE_PREFIX + self.name

    def doc(self) -> dict:
        """The stage's part of the config document: its cache key and what lineage names."""
        return {"class": self.target, "version": self.version, "contract": CONTRACT_VERSION, "modalities": list(self.modalities),
                "outputs": dict(sorted(self.outputs.items())), "inputs": list(self.inputs), "settings": self.settings}


def arrow_type(name: str):
    """The Arrow type of an output type name (one of ``OUTPUT_TYPES``)."""
    import pyarrow as pa

    return pa.bool_() if name == "bool" else getattr(pa, name)()


def _where(ref: str, line: int) -> str:
    return f"[process] stages entry {line + 1} ({ref!r})"


def _import(target: str):
    import importlib

    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _entry_point(name: str) -> str | None:
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            return ep.value.replace(" ", "")
    return None


def stage_class(target: str, ref: str | None = None, line: int = 0):
    """The class behind ``target`` ("module:Class"); a failing import is a one-line StageError."""
    try:
        return _import(target)
    except Exception as e:
        where = _where(ref or target, line)
        raise StageError(f"stage {ref or target!r} could not be loaded from {where}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}".rstrip(": "),
                         "install the package that provides it (or fix the module:Class path), or remove it from [process] stages "
                         "in .mmvc/config.toml") from None


def load_specs(refs: list, settings: dict) -> list[StageSpec]:
    """Specs of the stages ``[process] stages`` lists: "module:Class", the name of a built-in
    stage (``BUILTIN``, which no installed package can shadow), or the name of an entry point in
    the ``mmvc.stages`` group. An installed entry point runs only once named here: installing a
    package never changes what the gate admits by itself."""
    if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
        raise FormatError("[process] stages must be a list of strings", 'e.g. stages = ["mypkg.stages:Sharpness"] (docs/process.md)')
    specs: list[StageSpec] = []
    for line, ref in enumerate(refs):
        target = ref.replace(" ", "")
        if ":" not in target:
            found = BUILTIN.get(target) or _entry_point(target)
            if found is None:
                raise StageError(f"stage {ref!r} ({_where(ref, line)}) is neither module:Class nor an installed "
                                 f"{ENTRY_POINT_GROUP} entry point nor a built-in stage ({', '.join(BUILTIN)})",
                                 "install the package that registers it, or write it as package.module:Class")
            target = found
        specs.append(_spec(stage_class(target, ref, line), ref, target, line, settings))
    names = [s.name for s in specs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise StageError(f"stage name {dup[0]!r} is used by more than one entry of [process] stages", "give each stage its own name")
    unknown = sorted(set(settings) - set(names))
    if unknown:
        raise FormatError(f"[process.stage.{unknown[0]}] names no stage listed in [process] stages",
                          f"the stages are: {', '.join(names) or '(none)'}")
    return specs


def _spec(cls, ref: str, target: str, line: int, settings: dict) -> StageSpec:
    where = _where(ref, line)

    def bad(what: str, fix: str):
        return StageError(f"stage {ref!r} ({where}): {what}", fix)

    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not _NAME.match(name):
        raise bad(f"name must be a lowercase identifier, got {name!r}", 'set a class attribute such as name = "sharpness"')
    version = getattr(cls, "version", None)
    if version is None or isinstance(version, bool) or not isinstance(version, (int, str)):
        raise bad(f"version must be an int or a string, got {version!r}", "set version = 1 and bump it whenever results change")
    mods = getattr(cls, "modalities", None)
    if isinstance(mods, str) or not mods or any(m not in MODALITIES.values() for m in mods):
        raise bad(f"modalities must be a tuple of {', '.join(MODALITIES.values())}, got {mods!r}", 'e.g. modalities = ("image",)')
    outputs = getattr(cls, "outputs", None)
    if not isinstance(outputs, dict) or not outputs:
        raise bad("outputs must be a dict of column name to Arrow type name", 'e.g. outputs = {"sharpness": "float64"}')
    for col, typ in outputs.items():
        if not isinstance(col, str) or not _NAME.match(col):
            raise bad(f"output {col!r} is not a lowercase identifier", "name outputs like catalog columns (sharpness, ocr_fraction)")
        if typ not in OUTPUT_TYPES:
            raise bad(f"output {col!r} has type {typ!r}", f"scalar outputs are one of: {', '.join(OUTPUT_TYPES)}")
    inputs = getattr(cls, "inputs", ("text",))
    if isinstance(inputs, str) or any(i not in INPUTS for i in inputs):
        raise bad(f"inputs must be a tuple of {', '.join(INPUTS)}, got {inputs!r}", 'e.g. inputs = ("pixels",)')
    res = getattr(cls, "resources", None) or {}
    if not isinstance(res, dict) or set(res) - {"num_cpus", "num_gpus"}:
        raise bad(f"resources must be a dict of num_cpus/num_gpus, got {res!r}", 'e.g. resources = {"num_gpus": 1}')
    batch = getattr(cls, "batch_size", 64)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise bad(f"batch_size must be a whole number ≥ 1, got {batch!r}", "e.g. batch_size = 64")
    if not callable(cls):
        raise bad("is not a class", "point at the stage class, module:Class")
    return StageSpec(ref=ref, target=target, name=name, version=str(version), modalities=tuple(mods),
                     outputs=dict(outputs), inputs=tuple(inputs), num_cpus=float(res.get("num_cpus", 1)),
                     num_gpus=float(res.get("num_gpus", 0)), batch_size=batch, settings=dict(settings.get(name, {})))


# -- reject_if gates

_CMP_WORDS = re.compile(r"\b(AND|OR|NOT|and|or|not|And|Or|Not|IS|is|NULL|null|TRUE|true|FALSE|false)\b")


def _pythonic(expr: str) -> str:
    words = {"and": " and ", "or": " or ", "not": " not ", "is": " is ", "null": "None", "true": "True", "false": "False"}
    out = _CMP_WORDS.sub(lambda m: words[m.group(1).lower()], expr)
    out = out.replace("<>", "!=")
    return re.sub(r"(?<![<>!=])=(?!=)", "==", out)


@dataclass(frozen=True)
class RejectIf:
    """``[process.gates.NAME] reject_if = "sharpness < 4.5"``: a SQL-like predicate over the
    stage's outputs (comparisons, AND/OR/NOT, IS NULL); an item for which it holds is rejected.
    A missing value compares false, as NULL does in SQL."""

    gate: str
    expr: str

    def _tree(self):
        import ast

        try:
            tree = ast.parse(_pythonic(self.expr), mode="eval")
        except SyntaxError:
            raise FormatError(f"[process.gates.{self.gate}] reject_if {self.expr!r} does not parse",
                              'write comparisons joined by AND/OR, e.g. reject_if = "sharpness < 4.5"') from None
        allowed = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.Compare, ast.Lt, ast.LtE,
                   ast.Gt, ast.GtE, ast.Eq, ast.NotEq, ast.Is, ast.IsNot, ast.In, ast.NotIn, ast.Name, ast.Load, ast.Constant,
                   ast.Tuple, ast.List)
        for node in ast.walk(tree):
            if not isinstance(node, allowed):
                raise FormatError(f"[process.gates.{self.gate}] reject_if {self.expr!r} uses {type(node).__name__}, which a gate cannot",
                                  "use comparisons of outputs with numbers or strings, AND, OR, NOT, IS NULL")
        return tree

    def names(self) -> set[str]:
        import ast

        return {n.id for n in ast.walk(self._tree()) if isinstance(n, ast.Name)}

    def holds(self, values: dict) -> bool:
        import ast
        import operator

        ops = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Eq: operator.eq,
               ast.NotEq: operator.ne, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}

        def ev(n):
            if isinstance(n, ast.Expression):
                return ev(n.body)
            if isinstance(n, ast.BoolOp):
                vals = [ev(v) for v in n.values]
                return all(vals) if isinstance(n.op, ast.And) else any(vals)
            if isinstance(n, ast.UnaryOp):
                v = ev(n.operand)
                return (not v) if isinstance(n.op, ast.Not) else (None if v is None else -v)
            if isinstance(n, ast.Compare):
                left = ev(n.left)
                for op, right_node in zip(n.ops, n.comparators):
                    right = ev(right_node)
                    if isinstance(op, (ast.Is, ast.IsNot)):
                        ok = (left is right) == isinstance(op, ast.Is)
                    elif left is None or right is None:
                        return False
                    else:
                        try:
                            ok = ops[type(op)](left, right)
                        except TypeError:
                            return False
                    if not ok:
                        return False
                    left = right
                return True
            if isinstance(n, ast.Name):
                return values.get(n.id)
            if isinstance(n, ast.Constant):
                return n.value
            return [ev(e) for e in n.elts]

        return bool(ev(self._tree()))


def reject_ifs(gates: dict, specs: list[StageSpec]) -> dict[str, RejectIf]:
    """The ``reject_if`` gates of ``[process.gates.NAME]`` tables named after stages, checked
    against the outputs of the stage they name."""
    by_name = {s.name: s for s in specs}
    out = {}
    for name, table in gates.items():
        if name not in by_name:
            continue
        if not isinstance(table, dict) or set(table) - {"reject_if"}:
            raise FormatError(f"[process.gates.{name}] takes only reject_if", 'e.g. reject_if = "sharpness < 4.5"')
        if "reject_if" not in table:
            continue
        expr = table["reject_if"]
        if not isinstance(expr, str) or not expr.strip():
            raise FormatError(f"[process.gates.{name}] reject_if must be a string", 'e.g. reject_if = "sharpness < 4.5"')
        r = RejectIf(name, expr)
        unknown = sorted(r.names() - set(by_name[name].outputs))
        if unknown:
            raise FormatError(f"[process.gates.{name}] reject_if names {', '.join(unknown)}, not an output of stage {name!r}",
                              f"its outputs are: {', '.join(by_name[name].outputs)}")
        out[name] = r
    return out


# -- running

class StageUDF:
    """A user stage as a Ray class UDF (and the driver's, for small runs): built once per worker,
    called on batches. Returns per row the outputs as canonical JSON, or the item's error, or the
    contract violation that stops the run."""

    def __init__(self, target: str, ref: str, settings: dict, store_root: str | None = None):
        cls = stage_class(target, ref)
        self.spec = _spec(cls, ref, target, 0, {cls.name: settings} if getattr(cls, "name", None) else {})
        self.stage = cls(**settings)
        self.store = None
        if "bytes" in self.spec.inputs and store_root:
            from mmvc.core.store import LocalObjectStore

            self.store = LocalObjectStore(store_root)

    def _inputs(self, batch, rows: list[int]) -> dict:
        out: dict[str, list] = {"oid": [str(batch["oid"][i]) for i in rows], "modality": [str(batch["modality"][i]) for i in rows]}
        if "text" in self.spec.inputs:
            out["text"] = [batch["text"][i] if isinstance(batch["text"][i], str) else None for i in rows]
        if "bytes" in self.spec.inputs:
            out["bytes"] = [self.store.get(o) if self.store else None for o in out["oid"]]
        if "pixels" in self.spec.inputs:
            from mmvc.process.pipeline import cached_pixels

            out["pixels"] = [cached_pixels(batch["thumb"][i]) if isinstance(batch["thumb"][i], (bytes, bytearray)) else None for i in rows]
        return out

    def _checked(self, result, n: int) -> list[dict]:
        import pyarrow as pa

        name = self.spec.name
        if not isinstance(result, dict):
            raise _Contract(f"stage {name!r} returned {type(result).__name__}, not a dict of output lists")
        missing = [c for c in self.spec.outputs if c not in result]
        if missing:
            raise _Contract(f"stage {name!r} returned no {', '.join(missing)} (its outputs: {', '.join(self.spec.outputs)})")
        cols = {}
        for col, typ in self.spec.outputs.items():
            values = result[col]
            try:
                values = list(values)
            except TypeError:
                raise _Contract(f"stage {name!r} output {col!r} is {type(values).__name__}, not a list") from None
            if len(values) != n:
                raise _Contract(f"stage {name!r} output {col!r} has {len(values)} value(s) for a batch of {n}")
            try:
                cols[col] = pa.array(values, type=arrow_type(typ)).to_pylist()
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError) as e:
                raise _Contract(f"stage {name!r} output {col!r} is not {typ}: {str(e).splitlines()[0][:200]}") from None
        return [{c: cols[c][i] for c in cols} for i in range(n)]

    def __call__(self, batch):
        import pyarrow as pa

        n = len(batch["oid"])
        oids = [str(o) for o in batch["oid"]]
        values: list = [None] * n
        errors: list = [None] * n
        contract = None
        try:
            try:
                rows = self._checked(self.stage(self._inputs(batch, list(range(n)))), n)
                values = [json.dumps(r, sort_keys=True) for r in rows]
            except _Contract:
                raise
            except Exception:  # find the item(s) it raises on: each alone
                for i in range(n):
                    try:
                        values[i] = json.dumps(self._checked(self.stage(self._inputs(batch, [i])), 1)[0], sort_keys=True)
                    except _Contract:
                        raise
                    except Exception as e:
                        errors[i] = f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}".rstrip(": ")
        except _Contract as e:
            contract = str(e)
        return pa.table({"oid": pa.array(oids, pa.string()), "values": pa.array(values, pa.string()),
                         "error": pa.array(errors, pa.string()), "contract": pa.array([contract] * n, pa.string())})


class _Contract(Exception):
    pass


def run_stages(pipe, alive: list, prep: dict, verdicts: dict) -> list:
    """The hook ``Pipeline.run`` calls after decode and the rule gates, before dedup: each
    configured stage over the living items of its modalities (what the cache lacks computed on
    the run's engine), outputs merged into the verdicts' features, then its ``reject_if`` gate.
    Returns the items still alive."""
    from mmvc.process.cache import FeatureCache
    from mmvc.process.pipeline import Step

    cfg = pipe.cfg
    doc = cfg.describe()
    for spec in cfg.stage_specs():
        mine = [it for it in alive if modality_name(it.modality) in spec.modalities]
        cache = FeatureCache(pipe.repo, spec.cache, doc)
        rows = cache.load({it.oid for it in mine})
        todo = {}
        for it in mine:
            if it.oid not in rows and it.oid not in todo:
                todo[it.oid] = it
        counts = pipe.stats.stages.setdefault(spec.name, {"cached": 0, "computed": 0})
        counts["cached"] += len({it.oid for it in mine}) - len(todo)
        if todo:
            inputs = [{"oid": o, "modality": modality_name(it.modality), "text": prep.get(o, {}).get("text"),
                       "thumb": prep.get(o, {}).get("thumb") if "pixels" in spec.inputs else None} for o, it in todo.items()]
            kwargs = {"target": spec.target, "ref": spec.ref, "settings": spec.settings, "store_root": pipe.repo.store.root}
            pool = "model" if spec.num_gpus else "cpu"
            done, died = pipe._run_stage(f"stage {spec.name}", inputs, [Step(StageUDF, kwargs, spec.batch_size, pool=pool)])
            broken = next((r["contract"] for r in done if r.get("contract")), None)
            if broken:
                raise StageError(broken + "; nothing was recorded",
                                 f"fix the stage ({spec.target}) to return one value of the declared type per row for each output")
            new = [{"oid": str(r["oid"]), "values": r["values"], "error": r["error"]} for r in done]
            cache.store(new)  # a worker's death is the machine's, never cached
            for o, why in died.items():
                new.append({"oid": o, "values": None, "error": why})
            for r in new:
                rows[r["oid"]] = r
            counts["computed"] += len(new)
        gate = cfg.stage_gates.get(spec.name)
        for it in mine:
            v, r = verdicts[it.key], rows[it.oid]
            if r.get("error"):
                v.status, v.stage, v.reason, v.detail = "rejected", spec.name, "stage_error", f"{spec.name} v{spec.version}: {r['error']}"
                continue
            out = json.loads(r["values"]) if r.get("values") else {}
            v.features.update(out)
            if gate is not None and gate.holds(out):
                shown = ", ".join(f"{k}={out.get(k)!r}" for k in sorted(gate.names()))
                v.status, v.stage, v.reason, v.detail = "rejected", spec.name, "reject_if", f"{spec.name} v{spec.version}: {gate.expr} ({shown})"
        alive = [it for it in alive if verdicts[it.key].status == "passed"]
    return alive


def catalog_columns(config_doc: dict | None) -> dict[str, str]:
    """Output column → Arrow type name of every stage a config document ran."""
    out: dict[str, str] = {}
    for key, stage in (config_doc or {}).items():
        if key.startswith(CACHE_PREFIX) and isinstance(stage, dict):
            out.update(stage.get("outputs") or {})
    return out


def stage_versions(config_doc: dict | None) -> dict[str, str]:
    """Stage name → version of every user stage a config document ran (what lineage names)."""
    return {key[len(CACHE_PREFIX):]: str(stage.get("version")) for key, stage in sorted((config_doc or {}).items())
            if key.startswith(CACHE_PREFIX) and isinstance(stage, dict)}
