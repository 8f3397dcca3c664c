import click

from mmvc.cli.main import MmvcCommand


@click.command("lineage", cls=MmvcCommand)
@click.argument("item", metavar="KEY[@REV]")
@click.option("--rev", metavar="REV", help="The version (instead of @REV).")
@click.option("--json", "as_json", is_flag=True, help="Print the lineage as JSON.")
def command(item, rev, as_json):
    """Where an item came from: source chain, license, and the process config and models behind its features."""
    from mmvc.cli.render import emit_json, fmt_time
    from mmvc.core.pathrules import display_path
    from mmvc.ops.lineage import lineage
    from mmvc.repo import Repo

    r = lineage(Repo.discover(), item, rev)
    if as_json:
        emit_json(r)
        return
    click.echo(click.style(f"{display_path(r.key)} @ {r.rev} ({r.commit[:12]})", bold=True))
    click.echo(f"blob        {r.oid}  ({r.modality}, {r.size} bytes)")
    click.echo(f"license     {r.license or '(none)'}   policy: {r.license_policy.get('verdict')}"
               + (f" (allow {', '.join(r.license_policy['allow']) or '-'}; deny {', '.join(r.license_policy['deny']) or '-'})"
                  if r.license_policy.get("verdict") != "no policy" else ""))
    click.echo(f"source      {r.source or '(none)'}")
    for k in ("connector", "uri", "location", "retrieved", "revision", "etag"):
        if k in r.provenance:
            v = r.provenance[k]
            click.echo(f"  {k:<10}{fmt_time(v, 0) if k == 'retrieved' and isinstance(v, int) else v}")
    if r.caption:
        click.echo(f"caption     {r.caption}")
    if r.transcript:
        click.echo(f"transcript  {r.transcript}")
    click.echo(f"gate        {r.gate.get('mode')}" + (f"  config {r.gate['config'][:16]}…" if r.gate.get("config") else ""))
    p = r.process
    if p:
        click.echo(f"process     config {(p.get('config') or '-')[:16]}  run {(p.get('run') or '-')[:12]}  report {(p.get('report') or '-')[:12]}")
        click.echo(f"text model  {p.get('text_model') or '-'}")
        click.echo(f"clip model  {p.get('clip_model') or '-'}")
    if r.introduced_by:
        click.echo(f"since       {r.introduced_by[:12]} ({fmt_time(r.introduced_time, 0)})")
    if r.note:
        click.echo(f"note: {r.note}", err=True)
