import click

from mmvc.cli import complete
from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand


@click.command("lineage", cls=MmvcCommand, examples=[
    ("mmvc lineage images/cat.jpg", "where an item of HEAD came from"),
    ("mmvc lineage images/cat.jpg@v1 --json", "the same item in a tagged version, as JSON"),
])
@click.argument("item", metavar="KEY[@REV]", type=complete.FILE)
@click.option("--rev", metavar="REV", shell_complete=complete.revisions, help="The version (instead of @REV).")
@json_option("Print the lineage as JSON.")
@pass_console
def command(con, item, rev, as_json):
    """Where an item came from: source chain, license, and the process config and models behind its features."""
    from mmvc.cli.humanize import fmt_time
    from mmvc.core.pathrules import display_path
    from mmvc.repo import Repo

    r = Repo.discover().lineage(item, rev)
    if as_json:
        con.json_value(r)
        return
    out = con.data
    out(con.style(f"{display_path(r.key)} @ {r.rev} ({r.commit[:12]})", bold=True))
    out(f"blob        {r.oid}  ({r.modality}, {r.size} bytes)")
    out(f"license     {r.license or '(none)'}   policy: {r.license_policy.get('verdict')}"
               + (f" (allow {', '.join(r.license_policy['allow']) or '-'}; deny {', '.join(r.license_policy['deny']) or '-'})"
                  if r.license_policy.get("verdict") != "no policy" else ""))
    out(f"source      {r.source or '(none)'}")
    for k in ("connector", "uri", "location", "retrieved", "revision", "etag"):
        if k in r.provenance:
            v = r.provenance[k]
            out(f"  {k:<10}{fmt_time(v, 0) if k == 'retrieved' and isinstance(v, int) else v}")
    if r.caption:
        out(f"caption     {r.caption}")
    if r.transcript:
        out(f"transcript  {r.transcript}")
    out(f"gate        {r.gate.get('mode')}" + (f"  config {r.gate['config'][:16]}…" if r.gate.get("config") else ""))
    p = r.process
    if p:
        out(f"process     config {(p.get('config') or '-')[:16]}  run {(p.get('run') or '-')[:12]}  report {(p.get('report') or '-')[:12]}")
        out(f"text model  {p.get('text_model') or '-'}")
        out(f"clip model  {p.get('clip_model') or '-'}")
        if p.get("stages"):
            out(f"stages      {', '.join(f'{n} v{v}' for n, v in p['stages'].items())}")
    if r.introduced_by:
        out(f"since       {r.introduced_by[:12]} ({fmt_time(r.introduced_time, 0)})")
    for run in r.runs:
        where = (f"epoch {run['epoch']}, {run['consumed']} of {run['samples']} samples" if run["epoch"] is not None
                 else "no checkpoint yet")
        out(f"run         {run['name']}  on {run['commit'][:12]}  ({run['checkpoints']} checkpoint(s); {where})")
    for ev in r.evals:
        out(f"eval        {ev['id'][:12]}  {ev['name']}  on {ev['commit'][:12]}" + (f"  model {ev['model']}" if ev["model"] else "")
            + (f"  run {ev['run']}" if ev["run"] else ""))
    if r.note:
        con.info(f"note: {r.note}")
