import click

from mmvc.cli import complete
from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand


@click.command("log", cls=MmvcCommand, examples=[
    ("mmvc log --oneline -n 10", "the last ten versions, one line each"),
    ("mmvc log --all --graph", "every branch, with merges drawn"),
])
@click.argument("rev", default="HEAD", shell_complete=complete.revisions)
@click.option("--oneline", is_flag=True, help="One line per commit: short id and subject.")
@click.option("-n", "--max-count", type=click.IntRange(0), help="Show at most N commits.")
@click.option("--all", "all_refs", is_flag=True, help="Show the history of every branch and tag.")
@click.option("--graph", is_flag=True, help="Draw the lines of descent beside the commits.")
@click.option("--evals", is_flag=True, help="Show each version's evals: per name, the mean of every metric.")
@json_option("Print the commits as a JSON array.")
@pass_console
def command(con, rev, oneline, max_count, all_refs, graph, evals, as_json):
    """Show the history of versions reachable from REV (default HEAD)."""
    from mmvc.cli.evals_render import summary_line
    from mmvc.cli.humanize import fmt_time
    from mmvc.repo import Repo

    entries = Repo.discover().log(rev, max_count=max_count, all_refs=all_refs, graph=graph, evals=evals)
    if as_json:
        con.json_stream(entries)
        return
    style = con.style
    for e in entries:
        subject = e.message.splitlines()[0] if e.message else ""
        deco = style(f" ({', '.join(e.refs)})", fg="green") if e.refs else ""
        for row in e.connectors:
            con.data(row)
        lead = (e.graph + " ") if graph else ""
        if oneline:
            metrics = style(f"  [{summary_line(e.evals)}]", fg="cyan") if e.evals else ""
            con.data(f"{lead}{style(e.oid[:12], fg='yellow')}{deco} {subject}{metrics}")
            continue
        con.data(lead + style(f"commit {e.oid}", fg="yellow") + deco)
        below = (e.graph_below + " ") if graph else ""

        def out(line: str = "", below: str = below) -> None:
            con.data((below + line).rstrip() if line or graph else line)

        if len(e.parents) > 1:
            out("Merge: " + " ".join(p[:12] for p in e.parents))
        out(f"Author: {e.author} <{e.email}>")
        out(f"Date:   {fmt_time(e.time, e.tz)}")
        out(f"Gate:   {e.gate}")
        if e.evals:
            out(f"Evals:  {summary_line(e.evals)}")
        out("")
        for line in e.message.rstrip("\n").splitlines():
            out(f"    {line}")
        out("")
