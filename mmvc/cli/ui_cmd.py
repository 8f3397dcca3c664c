"""``mmvc ui``: serve a read-only web app over the repository (docs/ui.md)."""

from __future__ import annotations

import click

from mmvc.cli.console import Console
from mmvc.cli.main import MmvcCommand
from mmvc.repo import Repo


@click.command("ui", cls=MmvcCommand, examples=[
    ("mmvc ui", "serve http://127.0.0.1:8765/ and open the browser"),
    ("mmvc ui mix-v2 --no-browser --port 0", "serve one version on any free port; the address is printed"),
])
@click.argument("rev", required=False, default="HEAD")
@click.option("--port", type=int, default=8765, show_default=True, help="Port to listen on (0: any free one).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--allow-remote", is_flag=True, help="Allow a --host other than this machine (anyone who can reach it reads the repository).")
@click.option("--no-browser", is_flag=True, help="Do not open a browser.")
@click.pass_context
def command(ctx, rev, port, host, allow_remote, no_browser):
    """Browse versions, items, curation, diffs and search in a local web page."""
    from mmvc.core.extras import require

    require("ui", what="mmvc ui")
    from mmvc.ui.server import bind, check_host, is_local, make_server, url_of

    con = Console.of(ctx)
    repo = Repo.discover()
    repo.resolve(rev)
    check_host(host, allow_remote)
    if not is_local(host):
        con.warn(f"serving on {host}: anyone who can reach this address can read every version of this repository")
    sock = bind(host, port)
    address = url_of(sock)
    con.info(f"mmvc ui: serving {repo.root} at {address} (Ctrl-C stops)")
    con.data(address)
    con.flush()
    if not no_browser:
        import webbrowser

        webbrowser.open(address)
    make_server(repo, sock, rev).run(sockets=[sock])
