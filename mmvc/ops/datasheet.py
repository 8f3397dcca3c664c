"""``mmvc datasheet [REV] -o DIR``: a Markdown datasheet of one version, with PNG plots.

Everything in it is read, never recomputed: counts, bytes, licenses, sources and the length,
resolution and duration distributions from the version's catalog rows; rejection reasons and
duplicate rates per tier from the process report the version's commit records; the process
config and models from the process run behind its rows; the change since the first parent from
``mmvc diff``; the evals recorded for the version and, per metric, its value on every ancestor
evaluated under the same name (``mmvc eval``). The Markdown and the plots are written to temp names and renamed, so a datasheet
is whole or absent.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field

from mmvc.errors import BadInputError

EVAL_HISTORY = 1000  # ancestors the eval plots reach back over
COLUMNS = ["key", "modality", "size", "mime", "width", "height", "duration_s", "sample_rate", "language", "chars", "license", "source",
           "run", "config", "text_model", "clip_model", "status"]


@dataclass
class DatasheetResult:
    rev: str
    commit: str
    out: str
    markdown: str  # path of datasheet.md
    plots: list[str] = field(default_factory=list)
    summary: dict = field(default_factory=dict)


def datasheet(repo, rev: str = "HEAD", out: str = "datasheet") -> DatasheetResult:
    from mmvc.catalog import rows
    from mmvc.core.extras import require

    require("catalog", what="mmvc datasheet")
    oid = repo.resolve(rev)
    c = repo.read_commit(oid)
    t = rows(repo, rev, columns=COLUMNS, allow_ungated=True)
    data = {name: t.column(name).to_pylist() for name in t.column_names}
    n = t.num_rows
    s: dict = {"rev": rev, "commit": oid, "gate": c.gate.to_json(), "items": n, "bytes": sum(data["size"])}
    by_mod: dict[str, dict] = {}
    for m, size in zip(data["modality"], data["size"]):
        d = by_mod.setdefault(m, {"items": 0, "bytes": 0})
        d["items"] += 1
        d["bytes"] += size
    s["by_modality"] = dict(sorted(by_mod.items()))
    s["licenses"] = dict(Counter(x or "(none)" for x in data["license"]).most_common())
    s["sources"] = dict(Counter(x or "(none)" for x in data["source"]).most_common())
    s["languages"] = dict(Counter(x for x in data["language"] if x).most_common())
    s["quality"] = _report_summary(repo, c.gate.report)
    s["process"] = _process_summary(repo, data)
    s["parent_diff"] = _parent_diff(repo, c, oid)
    s["evals"], s["eval_history"] = _eval_summary(repo, oid)
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise BadInputError(f"cannot create the output folder {out}: {e.strerror}", "choose another folder with -o") from None
    plots = _plots(out, s, data)
    md_path = os.path.join(out, "datasheet.md")
    from mmvc.core.atomicfile import atomic_write

    atomic_write(md_path, _markdown(s, plots).encode("utf-8"), fsync=False)
    return DatasheetResult(rev=rev, commit=oid, out=out, markdown=md_path, plots=[os.path.join(out, p) for p in plots], summary=s)


def _report_summary(repo, report: str | None) -> dict:
    if not report:
        return {}
    from mmvc.services.runs import read_report

    t = read_report(repo, report, columns=["modality", "status", "stage", "reason"])
    cols = {c: t.column(c).to_pylist() for c in t.column_names}
    total = t.num_rows
    status = Counter(cols["status"])
    reasons = Counter(f"{st}/{r}" for s_, st, r in zip(cols["status"], cols["stage"], cols["reason"]) if s_ == "rejected")
    tiers = Counter(st for s_, st in zip(cols["status"], cols["stage"]) if s_ == "duplicate")
    return {"report": report, "processed": total, "status": dict(status), "rejection_reasons": dict(reasons.most_common()),
            "duplicates_per_tier": {tier: {"items": k, "rate": round(k / total, 4) if total else 0.0} for tier, k in sorted(tiers.items())}}


def _process_summary(repo, data: dict) -> dict:
    runs = Counter(r for r in data["run"] if r)
    configs = Counter(x for x in data["config"] if x)
    out = {"configs": dict(configs), "text_models": dict(Counter(x for x in data["text_model"] if x)),
           "clip_models": dict(Counter(x for x in data["clip_model"] if x)), "runs": len(runs)}
    if runs:
        from mmvc.services.runs import find_run

        doc = find_run(repo, runs.most_common(1)[0][0])
        if doc is not None:
            out["config_doc"] = doc.get("config_doc")
    return out


def _eval_summary(repo, oid: str) -> tuple[dict, dict]:
    """This version's evals (per name: runs, models, mean ± spread per metric) and, for each of
    its metrics, the mean on every ancestor that has an eval of that name, oldest first."""
    from mmvc.services.evals import eval_ids, read_evals, summaries_of

    ids = [o for _, o in eval_ids(repo, oid)]
    if not ids:
        return {}, {}
    evals = [e for _, e in read_evals(repo, ids)]
    models: dict[str, set] = {}
    for e in evals:
        models.setdefault(e.name, set()).update([e.model] if e.model else [])
    sums = summaries_of(repo, [oid])[oid]
    here = {n: {"runs": sm.runs, "models": sorted(models.get(n, ())), "better": sm.better,
                "metrics": {m: {"mean": st.mean, "spread": st.spread, "runs": st.runs} for m, st in sm.metrics.items()}}
            for n, sm in sums.items()}
    ancestors = [e.oid for e in repo.log(oid, max_count=EVAL_HISTORY)][::-1]
    history = summaries_of(repo, ancestors)
    series: dict = {}
    for n, sm in sums.items():
        for m in sm.metrics:
            points = [(c[:12], history[c][n].metrics[m].mean) for c in ancestors if c in history and n in history[c]
                      and m in history[c][n].metrics]
            series.setdefault(n, {})[m] = points
    return here, series


def _parent_diff(repo, c, oid: str) -> dict:
    if not c.parents:
        return {"parent": None}
    from mmvc.ops.diff import diff

    r = diff(repo, c.parents[0], oid)
    tot = r.total
    return {"parent": c.parents[0], "added": tot.added, "removed": tot.removed, "modified": tot.modified, "renamed": tot.renamed,
            "meta": tot.meta, "bytes_added": tot.bytes_added, "bytes_removed": tot.bytes_removed,
            "by_modality": {m: {"added": st.added, "removed": st.removed, "modified": st.modified} for m, st in r.by_modality.items()}}


def _plots(out: str, s: dict, data: dict) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []

    def save(fig, name):
        from mmvc.core.atomicfile import atomic_write
        import io

        buf = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buf, format="png", dpi=100)
        plt.close(fig)
        atomic_write(os.path.join(out, name), buf.getvalue(), fsync=False)
        made.append(name)

    def bars(name, title, counts: dict, xlabel="items"):
        if not counts:
            return
        items = list(counts.items())[:20]
        fig, ax = plt.subplots(figsize=(6, 0.4 * len(items) + 1.2))
        ax.barh([k for k, _ in items][::-1], [v for _, v in items][::-1], color="#4c72b0")
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        save(fig, name)

    bm = s["by_modality"]
    bars("items_by_modality.png", "Items per modality", {m: d["items"] for m, d in bm.items()})
    bars("bytes_by_modality.png", "MiB per modality", {m: round(d["bytes"] / 2**20, 3) for m, d in bm.items()}, "MiB")
    bars("licenses.png", "License mix", s["licenses"])
    bars("sources.png", "Source mix", s["sources"])
    q = s.get("quality") or {}
    bars("rejections.png", "Rejection reasons (last process report)", q.get("rejection_reasons") or {})

    def hist(name, title, values, xlabel, log=False):
        values = [v for v in values if v is not None]
        if not values:
            return
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.hist(values, bins=min(40, max(5, len(values) // 2)), color="#55a868")
        ax.set_title(f"{title} (n={len(values)})")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("items")
        if log:
            ax.set_xscale("log")
        save(fig, name)

    mods = data["modality"]
    hist("text_length.png", "Text length", [c for m, c in zip(mods, data["chars"]) if m == "text"], "characters")
    hist("audio_duration.png", "Audio duration", [d for m, d in zip(mods, data["duration_s"]) if m == "audio"], "seconds")
    hist("video_duration.png", "Video duration", [d for m, d in zip(mods, data["duration_s"]) if m == "video"], "seconds")
    for n, metrics in s["eval_history"].items():
        shown = list(metrics.items())[:8]
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for m, points in shown:
            ax.plot(range(len(points)), [v for _, v in points], marker="o", label=m)
        longest = max((points for _, points in shown), key=len)
        ax.set_xticks(range(len(longest)))
        ax.set_xticklabels([c[:7] for c, _ in longest], rotation=45, ha="right", fontsize=7)
        ax.set_title(f"{n} across the version's ancestors")
        ax.set_xlabel("version (oldest first)")
        ax.legend(fontsize=7)
        save(fig, eval_plot_name(n))
    wh = [(w, h) for m, w, h in zip(mods, data["width"], data["height"]) if m in ("image", "video") and w and h]
    if wh:
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.scatter([w for w, _ in wh], [h for _, h in wh], s=8, alpha=0.6, color="#c44e52")
        ax.set_title(f"Resolution of images and videos (n={len(wh)})")
        ax.set_xlabel("width (px)")
        ax.set_ylabel("height (px)")
        save(fig, "resolution.png")
    return made


def eval_plot_name(name: str) -> str:
    """The plot file of eval ``name``: its letters and digits, and a hash to keep names apart."""
    from mmvc.core.hashing import hash_bytes

    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)[:40]
    return f"eval_{safe}_{hash_bytes(name.encode())[:8]}.png"


def _markdown(s: dict, plots: list[str]) -> str:
    def human(n):
        for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
            if n < 1024 or unit == "TiB":
                return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
            n /= 1024

    def table(head, rows):
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
        lines += ["| " + " | ".join(str(x) for x in r) + " |" for r in rows]
        return "\n".join(lines)

    def img(name, alt):
        return f"![{alt}]({name})\n" if name in plots else ""

    g = s["gate"]
    L = [f"# Datasheet: {s['rev']}", "", f"Version `{s['commit']}`, {s['items']} items, {human(s['bytes'])}. "
         f"Gate: **{g['mode']}**" + (f" (process config `{g['config'][:16]}…`)" if g.get("config") else "") + ".", ""]
    L += ["## Composition", "", table(["modality", "items", "bytes"], [(m, d["items"], human(d["bytes"])) for m, d in s["by_modality"].items()]), "",
          img("items_by_modality.png", "items per modality"), img("bytes_by_modality.png", "bytes per modality")]
    L += ["## Licenses and sources", "", table(["license", "items"], list(s["licenses"].items())), "", img("licenses.png", "license mix"),
          table(["source", "items"], list(s["sources"].items())), "", img("sources.png", "source mix")]
    if s["languages"]:
        L += ["Languages (text): " + ", ".join(f"{k} {v}" for k, v in s["languages"].items()), ""]
    q = s.get("quality") or {}
    L += ["## Quality and curation", ""]
    if q:
        L += [f"The last process report (`{q['report'][:16]}…`) judged {q['processed']} staged items: "
              + ", ".join(f"{k} {v}" for k, v in sorted(q["status"].items())) + ".", ""]
        if q["rejection_reasons"]:
            L += [table(["stage/reason", "items"], list(q["rejection_reasons"].items())), "", img("rejections.png", "rejection reasons")]
        if q["duplicates_per_tier"]:
            L += [table(["duplicate tier", "items", "rate"], [(t, d["items"], f"{100 * d['rate']:.1f}%") for t, d in q["duplicates_per_tier"].items()]), ""]
    else:
        L += ["This version records no process report (ungated, or committed without processing).", ""]
    L += ["## Distributions", ""]
    dists = (("text_length.png", "text length"), ("resolution.png", "resolution"), ("audio_duration.png", "audio duration"),
             ("video_duration.png", "video duration"))
    for name, alt in dists:
        L.append(img(name, alt))
    if not any(name in plots for name, _ in dists):
        L += ["No length, resolution or duration features: the items were not decoded by `mmvc process`.", ""]
    p = s["process"]
    L += ["## Process config and models", "", f"Configs: {', '.join(f'`{k[:16]}…` ({v} items)' for k, v in p['configs'].items()) or 'none'}",
          "", f"Text models: {', '.join(f'`{k}` ({v})' for k, v in p['text_models'].items()) or 'none'}", "",
          f"CLIP models: {', '.join(f'`{k}` ({v})' for k, v in p['clip_models'].items()) or 'none'}", ""]
    if p.get("config_doc"):
        L += ["```json", json.dumps(p["config_doc"], indent=2, sort_keys=True), "```", ""]
    L += ["## Evaluations", ""]
    if s["evals"]:
        rows = []
        for n, ev in s["evals"].items():
            for m, st in ev["metrics"].items():
                value = f"{st['mean']:.4g}" + (f" ± {st['spread']:.2g}" if st["runs"] > 1 else "")
                rows.append((n, m, value, st["runs"], ev["better"].get(m, ""), ", ".join(ev["models"]) or "-"))
        L += [table(["eval", "metric", "value", "runs", "better", "models"], rows), ""]
        for n in s["eval_history"]:
            L.append(img(eval_plot_name(n), f"{n} across the version's ancestors"))
    else:
        L += ["No evals are recorded for this version (`mmvc eval add`).", ""]
    d = s["parent_diff"]
    L += ["## Change since the parent version", ""]
    if d.get("parent"):
        L += [f"Parent `{d['parent'][:12]}`: +{d['added']} added, -{d['removed']} removed, ~{d['modified']} modified, "
              f"{d['renamed']} renamed, {d['meta']} metadata changes; {human(d['bytes_added'])} in, {human(d['bytes_removed'])} out.", ""]
        if d["by_modality"]:
            L += [table(["modality", "added", "removed", "modified"], [(m, x["added"], x["removed"], x["modified"]) for m, x in d["by_modality"].items()]), ""]
    else:
        L += ["This is a root version (no parent).", ""]
    return "\n".join(L).rstrip() + "\n"
