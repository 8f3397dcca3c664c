import sys

import click

from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand, MmvcSubgroup


@click.group("eval", cls=MmvcSubgroup, examples=[
    ("mmvc eval add HEAD --name mmlu --metrics results.json", "pin one model's results to the version it was trained on"),
    ("mmvc eval compare v1 v2", "per metric: each side and the delta"),
])
def command():
    """Pin evaluation results to the version (recipe, export, training run) a model was trained on."""


def _show(con, i) -> None:
    from mmvc.cli.evals_render import fmt_value
    from mmvc.cli.humanize import fmt_time

    out = con.data
    out(con.style(f"eval {i.id}", fg="yellow"))
    out(f"Name:    {i.name}")
    out(f"Commit:  {i.commit}")
    for label, value in (("Model", i.model), ("Run", i.run), ("Record", i.run_record), ("Recipe", i.recipe), ("Export", i.export)):
        if value:
            out(f"{label + ':':<8} {value}")
    out(f"Author:  {i.author} <{i.email}>")
    out(f"Date:    {fmt_time(i.time, i.tz)}")
    if i.notes:
        out(f"Notes:   {i.notes}")
    out("")
    width = max(len(m) for m in i.metrics)
    for m, v in sorted(i.metrics.items()):
        hint = {"higher": "  (higher is better)", "lower": "  (lower is better)"}.get(i.better.get(m, ""), "")
        out(f"    {m:<{width}}  {fmt_value(v)}{hint}")


@command.command("add", cls=MmvcCommand, examples=[
    ("mmvc eval add HEAD --name mmlu --metrics results.json --model tiny", "lm-eval-harness or plain JSON results"),
    ("mmvc eval add v2 --name wikitext --metrics - --lower-is-better ppl", "read the metrics from standard input"),
])
@click.argument("rev")
@click.option("--name", required=True, help="The benchmark, e.g. mmlu (several evals may share a name: seeds, reruns).")
@click.option("--metrics", "metrics", required=True, metavar="FILE|-",
              help="JSON (flat or nested), lm-eval-harness results JSON, or CSV of name,value; - reads standard input.")
@click.option("--format", "fmt", type=click.Choice(["auto", "json", "csv"]), default="auto", show_default=True,
              help="How to read the metrics (auto: CSV for .csv/.tsv names, JSON otherwise).")
@click.option("--model", help="The model evaluated (a hub id, a path, a checkpoint name).")
@click.option("--run", help="The training run: a run recorded by the loader (refs/runs/NAME) or a tracker's run id.")
@click.option("--recipe", help="The recipe the model was trained on (it must select from REV).")
@click.option("--export", help="The export the model was trained on: its folder or URL, or its id.")
@click.option("--notes", help="Free text kept with the eval.")
@click.option("--higher-is-better", "higher", multiple=True, metavar="METRIC", help="A metric that improves upwards (repeatable).")
@click.option("--lower-is-better", "lower", multiple=True, metavar="METRIC", help="A metric that improves downwards (repeatable).")
@json_option("Print the stored eval as JSON.")
@pass_console
def add(con, rev, name, metrics, fmt, model, run, recipe, export, notes, higher, lower, as_json):
    """Record the results of evaluating a model trained on version REV."""
    from mmvc.repo import Repo

    source = sys.stdin.buffer.read() if metrics == "-" else metrics
    i = Repo.discover().add_eval(rev, name, source, format=fmt, model=model, run=run, recipe=recipe, export=export, notes=notes,
                                 higher=higher, lower=lower)
    if as_json:
        con.json_value(i)
        return
    if not i.created:
        con.info("the same eval was already recorded; nothing new was stored")
    con.data(f"eval {i.id[:12]}  {i.name}  {i.commit[:12]}  {len(i.metrics)} metric(s)")


@command.command("list", cls=MmvcCommand, examples=[
    ("mmvc eval list", "every eval of every version, oldest first"),
    ("mmvc eval list v2 --name mmlu --json", "one version's evals of one name, as JSON"),
])
@click.argument("rev", required=False)
@click.option("--name", help="Only the evals of this name.")
@json_option("List the evals as JSON.")
@pass_console
def list_(con, rev, name, as_json):
    """List the evals of REV (default: of every version), oldest first."""
    from mmvc.cli.evals_render import fmt_value
    from mmvc.cli.humanize import fmt_time
    from mmvc.repo import Repo

    infos = Repo.discover().list_evals(rev, name=name)
    if as_json:
        con.json_value(infos)
        return
    for i in infos:
        metrics = " ".join(f"{m}={fmt_value(v)}" for m, v in sorted(i.metrics.items())[:6])
        more = f" (+{len(i.metrics) - 6})" if len(i.metrics) > 6 else ""
        model = f"  {i.model}" if i.model else ""
        con.data(f"{con.style(i.id[:12], fg='yellow')}  {i.commit[:12]}  {i.name}{model}  {fmt_time(i.time, i.tz)[:16]}  {metrics}{more}")


@command.command("show", cls=MmvcCommand, examples=[
    ("mmvc eval show 3f2a9c", "an eval by a unique prefix of its id"),
])
@click.argument("eval_id", metavar="ID")
@json_option("Print the eval as JSON.")
@pass_console
def show(con, eval_id, as_json):
    """Show eval ID (or a unique prefix of it): its version, links and metrics."""
    from mmvc.repo import Repo

    i = Repo.discover().show_eval(eval_id)
    if as_json:
        con.json_value(i)
        return
    _show(con, i)


@command.command("compare", cls=MmvcCommand, examples=[
    ("mmvc eval compare v1 v2", "per metric: each side and the delta"),
    ("mmvc eval compare main feature --name mmlu --md", "a Markdown table for a pull-request comment"),
])
@click.argument("rev_a")
@click.argument("rev_b")
@click.option("--name", help="Only the evals of this name.")
@json_option("Print the comparison as JSON.")
@click.option("--md", "as_md", is_flag=True, help="Print a Markdown table fit for a pull-request comment.")
@pass_console
def compare(con, rev_a, rev_b, name, as_json, as_md):
    """Per metric: the value on REV_A, on REV_B, and the delta (mean ± spread over several runs)."""
    from mmvc.cli.evals_render import evaluations_markdown, evaluations_text
    from mmvc.repo import Repo

    if as_json and as_md:
        raise click.UsageError("choose one of --json and --md")
    c = Repo.discover().compare_evals(rev_a, rev_b, name=name)
    if as_json:
        con.json_value(c)
        return
    la, lb = _label(c.a), _label(c.b)
    if as_md:
        con.data(f"### mmvc eval compare: {la} → {lb}")
        con.data("")
        for line in evaluations_markdown(c.rows, la, lb) if c.rows else ["No evaluations on either version."]:
            con.data(line)
        return
    if not c.rows:
        con.data(f"no evals on {la} or {lb}")
        return
    for line in evaluations_text(c.rows, la, lb):
        con.data(line)


def _label(side) -> str:
    return f"{side.rev} ({side.commit[:12]})" if side.rev != side.commit else side.commit[:12]
