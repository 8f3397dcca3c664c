import click

from mmvc.cli.main import MmvcCommand


@click.command("log", cls=MmvcCommand)
@click.argument("rev", default="HEAD")
@click.option("--oneline", is_flag=True, help="One line per commit: short id and subject.")
@click.option("-n", "--max-count", type=click.IntRange(0), help="Show at most N commits.")
@click.option("--all", "all_refs", is_flag=True, help="Show the history of every branch and tag.")
@click.option("--graph", is_flag=True, help="Draw the lines of descent beside the commits.")
@click.option("--json", "as_json", is_flag=True, help="Print the commits as a JSON array.")
def command(rev, oneline, max_count, all_refs, graph, as_json):
    """Show the history of versions reachable from REV (default HEAD)."""
    from mmvc.cli.render import emit_json_stream, fmt_time
    from mmvc.repo import Repo

    entries = Repo.discover().log(rev, max_count=max_count, all_refs=all_refs, graph=graph)
    if as_json:
        emit_json_stream(entries)
        return
    for e in entries:
        subject = e.message.splitlines()[0] if e.message else ""
        deco = click.style(f" ({', '.join(e.refs)})", fg="green") if e.refs else ""
        lead = (e.graph + " ") if graph else ""
        if oneline:
            click.echo(f"{lead}{click.style(e.oid[:12], fg='yellow')}{deco} {subject}")
            continue
        click.echo(lead + click.style(f"commit {e.oid}", fg="yellow") + deco)
        if len(e.parents) > 1:
            click.echo("Merge: " + " ".join(p[:12] for p in e.parents))
        click.echo(f"Author: {e.author} <{e.email}>")
        click.echo(f"Date:   {fmt_time(e.time, e.tz)}")
        click.echo(f"Gate:   {e.gate}")
        click.echo("")
        for line in e.message.rstrip("\n").splitlines():
            click.echo(f"    {line}")
        click.echo("")
