#!/usr/bin/env python3
"""The script of mmvc's GitHub Action (action.yml), runnable anywhere: the Markdown of one
pull-request comment about a dataset change, and a verdict from the policy options.

It runs the ``mmvc`` on PATH (nothing else of mmvc is imported), so what it reports is what the
command line says: ``mmvc diff BASE HEAD --md`` for the change, ``mmvc show --json`` for the
items per modality, ``mmvc report --rev --json`` for the rejected items of gated versions, and
optional evaluation results (JSON objects of metric -> number) for the two sides.

Exit status: 0 when every policy holds, 1 when one does not (the comment says which), and
mmvc's own exit code when mmvc fails (2 and above). With GITHUB_OUTPUT set, it also writes
``verdict=pass|fail`` and ``comment=PATH`` there.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

MARKER = "<!-- mmvc-dataset-diff -->"  # how the action finds its own comment to update


class MmvcFailed(Exception):
    def __init__(self, argv: list[str], code: int, stderr: str):
        super().__init__(f"`{' '.join(argv)}` exited {code}: {stderr.strip()}")
        self.code = code


def mmvc(repo: str, *args: str, ok: tuple[int, ...] = (0,)) -> tuple[int, str]:
    argv = ["mmvc", "-C", repo, *args]
    res = subprocess.run(argv, capture_output=True, text=True)
    if res.returncode not in ok:
        raise MmvcFailed(argv, res.returncode, res.stderr)
    return res.returncode, res.stdout


def items_per_modality(repo: str, rev: str) -> dict[str, int]:
    shown = json.loads(mmvc(repo, "show", rev, "--json")[1])
    return {m: s["items"] for m, s in shown["by_modality"].items()}


def rejected(repo: str, rev: str) -> int | None:
    """Items the gate rejected in ``rev``'s process report; None for a version with no report
    (an ungated one)."""
    code, out = mmvc(repo, "report", "--rev", rev, "--json", ok=(0, 4))
    return None if code == 4 else sum(1 for row in json.loads(out) if row["status"] == "rejected")


def read_evals(path: str | None) -> dict[str, float]:
    if not path:
        return {}
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if not isinstance(doc, dict) or not all(isinstance(v, (int, float)) for v in doc.values()):
        raise SystemExit(f"error: {path} is not a JSON object of metric names to numbers")
    return doc


def _num(v) -> str:
    return "–" if v is None else f"{v:g}"


def comment(repo: str, base: str, head: str, limit: int, max_shrink: float | None, rejected_may_rise: bool,
            eval_base: dict, eval_head: dict) -> tuple[str, list[str]]:
    """(the comment's Markdown, the policies that do not hold)."""
    parts = [MARKER, mmvc(repo, "diff", base, head, "--md", "--limit", str(limit))[1].rstrip("\n")]
    failed: list[str] = []
    rows = []
    if max_shrink is not None:
        before, after = items_per_modality(repo, base), items_per_modality(repo, head)
        for m in sorted(set(before) | set(after)):
            b, h = before.get(m, 0), after.get(m, 0)
            shrink = (b - h) / b * 100 if b else 0.0
            ok = shrink <= max_shrink
            if not ok:
                failed.append(f"{m} items shrank by {shrink:.1f}% (at most {max_shrink:g}% allowed)")
            result = "✅" if ok else f"❌ shrank by {shrink:.1f}%"
            rows.append(f"| {m} items (may shrink by at most {max_shrink:g}%) | {b} | {h} | {result} |")
    if not rejected_may_rise:
        b, h = rejected(repo, base), rejected(repo, head)
        if b is None or h is None:
            result = "– (no process report: ungated)"
        elif h > b:
            failed.append(f"rejected items rose from {b} to {h}")
            result = f"❌ rose by {h - b}"
        else:
            result = "✅"
        rows.append(f"| rejected items (may not rise) | {_num(b)} | {_num(h)} | {result} |")
    if rows:
        parts += ["", "#### Checks", "", "| check | base | head | result |", "| --- | ---: | ---: | --- |", *rows]
    if eval_base or eval_head:
        parts += ["", "#### Evaluations", "", "| metric | base | head | Δ |", "| --- | ---: | ---: | ---: |"]
        for k in sorted(set(eval_base) | set(eval_head)):
            b, h = eval_base.get(k), eval_head.get(k)
            delta = f"{h - b:+.4g}" if b is not None and h is not None else "–"
            parts.append(f"| {k} | {_num(b)} | {_num(h)} | {delta} |")
    if failed:
        parts += ["", "**Failed:** " + "; ".join(failed) + "."]
    return "\n".join(parts) + "\n", failed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repo", default=".", help="the mmvc repository (default: the current folder)")
    p.add_argument("--base", required=True, help="the revision the pull request starts from (e.g. origin/main)")
    p.add_argument("--head", default="HEAD", help="the revision it proposes (default HEAD)")
    p.add_argument("--limit", type=int, default=50, help="changes listed in the comment (default 50)")
    p.add_argument("--max-shrink", type=float, metavar="PCT", help="fail when a modality loses more than PCT%% of its items")
    p.add_argument("--fail-on-rejected-increase", action="store_true", help="fail when the gate rejected more items in HEAD than in BASE")
    p.add_argument("--eval-base", metavar="FILE", help="evaluation results of BASE: a JSON object of metric -> number")
    p.add_argument("--eval-head", metavar="FILE", help="evaluation results of HEAD")
    p.add_argument("--out", required=True, help="where to write the comment's Markdown")
    a = p.parse_args(argv)
    try:
        text, failed = comment(a.repo, a.base, a.head, a.limit, a.max_shrink, not a.fail_on_rejected_increase,
                               read_evals(a.eval_base), read_evals(a.eval_head))
    except MmvcFailed as e:
        print(f"error: {e}", file=sys.stderr)
        return e.code if e.code >= 2 else 2
    with open(a.out, "w", encoding="utf-8") as f:
        f.write(text)
    if os.environ.get("GITHUB_OUTPUT"):
        with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as f:
            f.write(f"verdict={'fail' if failed else 'pass'}\ncomment={a.out}\n")
    for why in failed:
        print(f"policy failed: {why}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
