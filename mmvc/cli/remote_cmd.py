import click

from mmvc.cli import complete
from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand, MmvcSubgroup


@click.group("remote", cls=MmvcSubgroup, invoke_without_command=True, examples=[
    ("mmvc remote add origin s3://bucket/datasets/captions", "remember a bucket as origin"),
    ("mmvc remote list -v", "list the remotes with their URLs"),
])
@json_option("List the remotes as JSON.")
@click.pass_context
def command(ctx, as_json):
    """Manage remotes: named fsspec URLs (s3://, gs://, file://, memory://) to push to and fetch from.

    With no subcommand, list them."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_cmd, as_json=as_json)


@command.command("add", cls=MmvcCommand, examples=[
    ("mmvc remote add origin s3://bucket/datasets/captions", "a bucket"),
    ("mmvc remote add minio s3://data/captions --endpoint-url http://localhost:9000", "an S3-compatible server"),
])
@click.argument("name")
@click.argument("url")
@click.option("--endpoint-url", metavar="URL", help="S3-compatible endpoint (else AWS_ENDPOINT_URL or the AWS default).")
@click.option("-f", "--force", is_flag=True, help="Replace a remote of the same name.")
@pass_console
def add_cmd(con, name, url, endpoint_url, force):
    """Add remote NAME at URL. Credentials come from the environment or a profile, never from here."""
    from mmvc.repo import Repo

    r = Repo.discover().add_remote(name, url, endpoint_url=endpoint_url, force=force)
    con.data(f"Added remote {r.name} → {r.url}" + (f" (endpoint {r.endpoint_url})" if r.endpoint_url else ""))


@command.command("list", cls=MmvcCommand, examples=[
    ("mmvc remote list -v", "names, URLs and endpoints"),
])
@click.option("-v", "--verbose", is_flag=True, help="Show URLs and endpoints.")
@json_option("Print the remotes as JSON.")
@pass_console
def list_cmd(con, verbose=False, as_json=False):
    """List the remotes."""
    from mmvc.repo import Repo

    remotes = Repo.discover().list_remotes()
    if as_json:
        con.json_value(remotes)
        return
    for r in remotes:
        if verbose:
            extra = (f"  endpoint={r.endpoint_url}" if r.endpoint_url else "") + ("  (promisor: partial clone)" if r.promisor else "")
            con.data(f"{r.name}\t{r.url}{extra}")
        else:
            con.data(r.name)


@command.command("remove", cls=MmvcCommand, examples=[
    ("mmvc remote remove backup", "forget a remote and its remote-tracking refs"),
])
@click.argument("name", shell_complete=complete.remotes)
@pass_console
def remove_cmd(con, name):
    """Forget remote NAME and its remote-tracking refs (nothing on the remote changes)."""
    from mmvc.repo import Repo

    r = Repo.discover().remove_remote(name)
    con.data(f"Removed remote {r.name} ({r.url})")
