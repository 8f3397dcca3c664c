"""Metric values and deltas as people read them: one format for ``eval``, ``log --evals`` and the
Evaluations table of ``diff --md``."""

from __future__ import annotations

ARROWS = {"improved": "↑ better", "regressed": "↓ worse", "unchanged": "="}


def fmt_value(v: float) -> str:
    """Four decimals for everyday metrics (0.6523, 65.2340 → 65.234), exponent form at the extremes."""
    if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-3):
        return f"{v:.4g}"
    text = f"{v:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def fmt_delta(d: float | None) -> str:
    if d is None:
        return "–"
    if d == 0:
        return "0"
    return ("+" if d > 0 else "") + fmt_value(d)


def fmt_stat(s) -> str:
    """``mean`` for one run; ``mean ± spread (n runs)`` for several."""
    if s is None:
        return "–"
    if s.runs == 1:
        return fmt_value(s.mean)
    return f"{fmt_value(s.mean)} ± {fmt_value(s.spread)} ({s.runs} runs)"


def arrow(row) -> str:
    if row.delta is None:
        return ""
    if row.verdict:
        return ARROWS[row.verdict]
    return "↑" if row.delta > 0 else ("↓" if row.delta < 0 else "=")


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def evaluations_markdown(rows, label_a: str, label_b: str) -> list[str]:
    """The Evaluations table of a pull-request comment: value A, value B, delta, arrow."""
    out = ["| eval | metric | " + _md_cell(label_a) + " | " + _md_cell(label_b) + " | Δ | |",
           "| --- | --- | ---: | ---: | ---: | --- |"]
    for r in rows:
        out.append(f"| {_md_cell(r.name)} | {_md_cell(r.metric)} | {fmt_stat(r.a)} | {fmt_stat(r.b)} | {fmt_delta(r.delta)} | {arrow(r)} |")
    return out


def evaluations_text(rows, label_a: str, label_b: str) -> list[str]:
    """The same rows as aligned plain-text columns."""
    table = [["eval", "metric", label_a, label_b, "delta", ""]]
    table += [[r.name, r.metric, fmt_stat(r.a), fmt_stat(r.b), fmt_delta(r.delta), arrow(r)] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return ["  ".join(c.ljust(w) if i < 2 or i == 5 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()
            for row in table]


SUMMARY_METRICS = 6  # metrics per eval name on a line of `log --evals` (JSON has them all)


def summary_line(summaries: dict) -> str:
    """``mmlu: acc=0.652 acc_norm=0.71; hellaswag (3 runs): acc=0.8`` for one version."""
    parts = []
    for name, s in summaries.items():
        runs = f" ({s.runs} runs)" if s.runs > 1 else ""
        shown = s.means(SUMMARY_METRICS)
        more = f" (+{len(s.metrics) - len(shown)})" if len(s.metrics) > len(shown) else ""
        parts.append(f"{name}{runs}: " + " ".join(f"{m}={fmt_value(mean)}" for m, mean in shown) + more)
    return "; ".join(parts)
