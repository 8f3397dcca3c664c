"""What each page shows, as plain JSON-able data: the HTML page renders it through a template and
its ``/api`` twin returns it as JSON, so the two can never disagree. Everything is read through
``Repo``; nothing here re-implements a diff, a report, a search or a catalog query."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from urllib.parse import quote

from mmvc.core.modality import AUDIO, IMAGE, MODALITIES, TEXT, VIDEO, modality_name
from mmvc.errors import BadInputError, MmvcError

PER_PAGE = 100
MAX_PER_PAGE = 500
MAX_PAGE = 10**9
LOG_LIMIT = 200
DIFF_LIMIT = 100  # changes listed per kind by default; the summary counts all of them
MAX_DIFF_LIMIT = 1000
THUMBED = (IMAGE, VIDEO, AUDIO, TEXT)


class PageError(Exception):
    """A request the UI answers with an error page: an HTTP status, one line, and a hint."""

    def __init__(self, status: int, message: str, hint: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.hint = hint


def url(path: str, **params) -> str:
    """``path`` with its query; revision and key characters that are safe in a query stay as
    they are, so links stay readable (``/grid?rev=main~1``)."""
    q = "&".join(f"{k}={quote(str(v), safe='/~^:@')}" for k, v in params.items() if v not in (None, ""))
    return path + "?" + q if q else path


def resolve(repo, rev: str) -> str:
    """The commit ``rev`` names; an unknown revision is a 404, not a bad request."""
    try:
        return repo.resolve(rev)
    except BadInputError as e:
        raise PageError(404, e.message, e.hint) from None


def int_param(value: str | None, name: str, default: int, lo: int, hi: int) -> int:
    if value in (None, ""):
        return default
    try:
        n = int(value)
    except ValueError:
        raise PageError(400, f"{name} must be a whole number, not {value!r}", f"e.g. {name}={default}") from None
    if not lo <= n <= hi:
        raise PageError(400, f"{name} {n} is out of range", f"use {lo} to {hi}")
    return n


def check_key(key: str | None) -> str:
    """An item key as versions store them: relative, ``/``-separated, no ``.``/``..`` steps."""
    if not key:
        raise PageError(400, "no item key given", "add key=PATH, a key of the version")
    parts = key.split("/")
    if key.startswith("/") or "\\" in key or "\0" in key or any(p in ("", ".", "..") for p in parts):
        raise PageError(400, f"{key!r} is not an item key", "keys are paths inside the version, without '..', '.' or a leading '/'")
    return key


def item_card(rev: str, key: str, oid: str, modality: int | str, size: int, meta: dict | None = None) -> dict:
    code = modality if isinstance(modality, int) else {v: k for k, v in MODALITIES.items()}.get(modality, 0)
    name = modality_name(code) if isinstance(modality, int) else modality
    return {
        "key": key, "oid": oid, "modality": name, "size": size, "meta": meta or {},
        "thumb": url(f"/thumb/{oid}", m=name) if code in THUMBED else None,
        "raw": url("/raw", rev=rev, key=key),
        "page": url("/item", rev=rev, key=key),
    }


def _entry_card(rev: str, e) -> dict:
    return item_card(rev, e.path, e.oid, e.modality, e.size, json.loads(e.meta) if e.meta else {})


def _subject(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else ""


# -- pages


EVAL_METRICS = 4  # metric means shown per eval name on the versions page


def versions(repo) -> dict:
    """Branches, tags and the commit graph with each version's counts per modality and the
    means of its evals (`mmvc eval`)."""
    from mmvc.ops.show import tree_summary

    branch, head = repo.head()
    out: dict = {"head": head, "branch": branch, "branches": [], "tags": [], "commits": []}
    for b in repo.list_branches(verbose=True):
        out["branches"].append({"name": b.name, "commit": b.oid, "current": b.current, "subject": b.subject,
                                "page": url("/grid", rev=b.name)})
    for t in repo.list_tags():
        out["tags"].append({"name": t.name, "commit": t.target, "page": url("/grid", rev=t.name)})
    if not out["branches"] and head is None:
        return out
    for e in repo.log(all_refs=True, graph=True, max_count=LOG_LIMIT, evals=True):
        c = repo.read_commit(e.oid)
        items, nbytes, by = tree_summary(repo, c.tree)
        out["commits"].append({
            "oid": e.oid, "short": e.oid[:12], "parents": list(e.parents), "author": e.author, "time": e.time,
            "subject": _subject(e.message), "gate": e.gate, "report": c.gate.report, "refs": list(e.refs), "graph": e.graph,
            "items": items, "bytes": nbytes, "by_modality": by,
            "evals": {name: {"runs": summary.runs, "means": dict(summary.means(EVAL_METRICS))} for name, summary in (e.evals or {}).items()},
            "page": url("/grid", rev=e.oid), "curation": url("/curation", rev=e.oid) if c.gate.report else None,
            "diff": url("/diff", a=e.parents[0], b=e.oid) if e.parents else None,
        })
    return out


def grid(repo, rev: str, page: int, per_page: int, where: str | None) -> dict:
    """One page of a version's items; ``where`` filters through the catalog's language."""
    commit = resolve(repo, rev)
    offset = (page - 1) * per_page
    if where:
        res = _query(repo, rev, where, ["key", "oid", "modality", "size", "meta"], offset + per_page)
        total = res.total
        rows = res.table.slice(offset, per_page).to_pylist() if offset < res.table.num_rows else []
        cards = [item_card(rev, r["key"], r["oid"], r["modality"], r["size"], _meta(r.get("meta"))) for r in rows]
    else:
        p = repo.ls_page(commit, offset, per_page)
        total = p.total
        cards = [_entry_card(rev, e) for e in p.entries]
    pages = max(1, math.ceil(total / per_page))
    if page > pages:
        raise PageError(404, f"page {page} is past the last page ({pages}) of {rev}", url("/grid", rev=rev, where=where, page=pages))
    show = repo.show(commit)
    return {
        "rev": rev, "commit": commit, "where": where or None, "page": page, "per_page": per_page, "pages": pages, "total": total,
        "items": cards, "by_modality": show.by_modality, "subject": _subject(show.message), "gate": show.gate,
        "prev": url("/grid", rev=rev, where=where, page=page - 1) if page > 1 else None,
        "next": url("/grid", rev=rev, where=where, page=page + 1) if page < pages else None,
    }


def _meta(value) -> dict:
    if isinstance(value, dict):
        return value
    try:
        return json.loads(value) if value else {}
    except (TypeError, ValueError):
        return {}


def _query(repo, rev: str, where: str, columns: list[str], limit: int):
    from mmvc.catalog.read import OUTPUT_COLUMNS

    cols = [c for c in columns if c in OUTPUT_COLUMNS or c == "key"]
    try:
        return repo.query(rev, where=where, columns=cols, limit=limit)
    except BadInputError as e:
        raise PageError(400, e.message, e.hint) from None


def item(repo, rev: str, key: str) -> dict:
    """One item: its entry, metadata and lineage (when the catalog can tell it)."""
    commit = resolve(repo, rev)
    e = _entry(repo, commit, rev, key)
    card = _entry_card(rev, e)
    card["download"] = url("/raw", rev=rev, key=key, download=1)
    out: dict = {"rev": rev, "commit": commit, "item": card, "lineage": None, "lineage_note": ""}
    try:
        out["lineage"] = _plain(repo.lineage(key, commit))
    except MmvcError as e:
        out["lineage_note"] = e.message
    return out


def _entry(repo, commit: str, rev: str, key: str):
    check_key(key)
    try:
        return repo.item(key, commit)
    except BadInputError:
        raise PageError(404, f"no item {key!r} in {rev}", url("/grid", rev=rev)) from None


def raw(repo, rev: str, key: str) -> tuple[bytes, str, str]:
    """An item's bytes, straight from the store, with a content type guessed from its key."""
    import mimetypes

    e = _entry(repo, resolve(repo, rev), rev, key)
    ctype = mimetypes.guess_type(key)[0] or ("text/plain; charset=utf-8" if e.modality == TEXT else "application/octet-stream")
    return repo.store.get(e.oid), ctype, os.path.basename(key)


def curation(repo, rev: str | None) -> dict:
    """The process report of a version (or of the staged items): duplicate clusters with their
    survivor, rejections grouped by reason, counts per reason."""
    commit = resolve(repo, rev) if rev else None
    try:
        rep = repo.report(commit, include_passed=True)
    except BadInputError as e:
        raise PageError(404, e.message, e.hint) from None
    where = rev or "staged"
    by_path = {r.path: r for r in rep.rows}
    clusters: dict[str, dict] = {}
    rejected: dict[str, list] = {}
    counts = {"passed": 0, "duplicate": 0, "rejected": 0, "conflict": 0}
    for r in rep.rows:
        counts[r.status] = counts.get(r.status, 0) + 1
        if r.status in ("duplicate", "conflict") and r.duplicate_of:
            kept = by_path.get(r.duplicate_of)
            c = clusters.setdefault(r.duplicate_of, {
                "kept": _report_card(where, kept) if kept else {"key": r.duplicate_of, "thumb": None, "modality": r.modality},
                "why_kept": kept.kept if kept else "", "dropped": []})
            c["dropped"].append({**_report_card(where, r), "tier": r.stage, "reason": r.reason, "detail": r.detail, "why": r.kept})
        elif r.status == "rejected":
            rejected.setdefault(f"{r.stage}/{r.reason}", []).append({**_report_card(where, r), "detail": r.detail})
    return {"rev": rev, "commit": commit, "report": rep.report, "counts": counts, "by_reason": rep.by_reason,
            "duplicates": list(clusters.values()), "rejected": rejected}


def _report_card(rev: str, r) -> dict:
    card = item_card(rev, r.path, r.oid, r.modality, 0)
    card.pop("size")
    if rev == "staged":
        card["raw"] = card["page"] = None
    return card


def diff(repo, a: str, b: str, limit: int = DIFF_LIMIT) -> dict:
    """Two versions side by side: per-modality summary and the changes of each kind."""
    from mmvc.core.diff import KINDS

    for rev in (a, b):
        resolve(repo, rev)
    res = repo.diff(a, b)
    changes: dict[str, list] = {k: [] for k in KINDS}
    counts = dict.fromkeys(KINDS, 0)
    for c in res.changes:
        counts[c.kind] += 1
        if len(changes[c.kind]) < limit:
            changes[c.kind].append({
                "kind": c.kind, "path": c.path, "old_path": c.old_path, "modality": c.modality, "fields": list(c.fields),
                "old": _entry_card(a, c.old) if c.old is not None else None,
                "new": _entry_card(b, c.new) if c.new is not None else None,
            })
    return {"a": a, "b": b, "a_commit": res.a.commit, "b_commit": res.b.commit, "counts": counts, "limit": limit,
            "by_modality": {m: dataclasses.asdict(s) for m, s in res.by_modality.items()},
            "total": dataclasses.asdict(res.total), "changes": changes, "link": url("/diff", a=a, b=b)}


def search(repo, rev: str, q: str | None, image: str | None, modality: str | None, k: int, where: str | None) -> dict:
    """The per-family nearest items, exactly as ``mmvc search`` finds them."""
    commit = resolve(repo, rev)
    out: dict = {"rev": rev, "commit": commit, "q": q or "", "modality": modality, "k": k, "where": where, "families": []}
    if not q and not image:
        return out
    try:
        res = repo.search(query=q or None, image=image, rev=commit, modality=modality or None, k=k, where=where or None)
    except BadInputError as e:
        raise PageError(400, e.message, e.hint) from None
    for f in res.families:
        out["families"].append({"family": f.family, "column": f.column, "model": f.model, "note": f.note,
                                "hits": [{**item_card(rev, h.key, h.oid, h.modality, h.row.get("size") or 0), "score": h.score,
                                          "row": _plain(h.row)} for h in f.hits]})
    return out


def datasheet(repo, rev: str) -> dict:
    """The datasheet of a version, written once per commit into the UI cache."""
    commit = resolve(repo, rev)
    folder = repo.layout.ui_datasheet(commit)
    summary_path = os.path.join(folder, "summary.json")
    if not os.path.exists(summary_path):
        from mmvc.core.atomicfile import atomic_write

        res = repo.datasheet(commit, folder)
        atomic_write(summary_path, json.dumps(_plain(res.summary), sort_keys=True).encode(), fsync=False)
    with open(summary_path, encoding="utf-8") as f:
        summary = json.load(f)
    plots = sorted(n for n in os.listdir(folder) if n.endswith(".png"))
    return {"rev": rev, "commit": commit, "summary": summary,
            "plots": [{"name": n, "url": f"/datasheet-plot/{commit}/{n}"} for n in plots]}


def datasheet_plot(repo, commit: str, name: str) -> bytes:
    """A plot of a datasheet already in the UI cache; never a path outside that folder."""
    import re

    if not re.fullmatch(r"[0-9a-f]{64}", commit) or not re.fullmatch(r"[A-Za-z0-9_-]+\.png", name):
        raise PageError(404, "no such datasheet plot", url("/"))
    path = os.path.join(repo.layout.ui_datasheet(commit), name)
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise PageError(404, "no such datasheet plot", "open the version's datasheet page first") from None


def _plain(obj):
    """Dataclasses, tuples and numpy scalars as JSON-able values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(obj).items()}
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item) and not isinstance(obj, (str, bytes)):
        try:
            return obj.item()
        except (TypeError, ValueError):
            pass
    if isinstance(obj, bytes):
        return obj.hex()
    return obj
