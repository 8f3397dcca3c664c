import click

from mmvc.cli.main import MmvcCommand, RichHelpMixin


class _RemoteGroup(RichHelpMixin, click.Group):
    def command_summary(self, name: str) -> str:
        return self.commands[name].get_short_help_str(limit=90)


@click.group("remote", cls=_RemoteGroup, invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="List the remotes as JSON.")
@click.pass_context
def command(ctx, as_json):
    """Manage remotes: named fsspec URLs (s3://, gs://, file://, memory://) to push to and fetch from.

    With no subcommand, list them."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_cmd, as_json=as_json)


@command.command("add", cls=MmvcCommand)
@click.argument("name")
@click.argument("url")
@click.option("--endpoint-url", metavar="URL", help="S3-compatible endpoint (else AWS_ENDPOINT_URL or the AWS default).")
@click.option("-f", "--force", is_flag=True, help="Replace a remote of the same name.")
def add_cmd(name, url, endpoint_url, force):
    """Add remote NAME at URL. Credentials come from the environment or a profile, never from here."""
    from mmvc.cli.render import chatter
    from mmvc.ops import remote as ops
    from mmvc.repo import Repo

    r = ops.add_remote(Repo.discover(), name, url, endpoint_url=endpoint_url, force=force)
    chatter(f"Added remote {r.name} → {r.url}" + (f" (endpoint {r.endpoint_url})" if r.endpoint_url else ""))


@command.command("list", cls=MmvcCommand)
@click.option("-v", "--verbose", is_flag=True, help="Show URLs and endpoints.")
@click.option("--json", "as_json", is_flag=True, help="Print the remotes as JSON.")
def list_cmd(verbose=False, as_json=False):
    """List the remotes."""
    from mmvc.cli.render import emit_json
    from mmvc.ops import remote as ops
    from mmvc.repo import Repo

    remotes = ops.list_remotes(Repo.discover())
    if as_json:
        emit_json(remotes)
        return
    for r in remotes:
        if verbose:
            extra = (f"  endpoint={r.endpoint_url}" if r.endpoint_url else "") + ("  (promisor: partial clone)" if r.promisor else "")
            click.echo(f"{r.name}\t{r.url}{extra}")
        else:
            click.echo(r.name)


@command.command("remove", cls=MmvcCommand)
@click.argument("name")
def remove_cmd(name):
    """Forget remote NAME and its remote-tracking refs (nothing on the remote changes)."""
    from mmvc.cli.render import chatter
    from mmvc.ops import remote as ops
    from mmvc.repo import Repo

    r = ops.remove_remote(Repo.discover(), name)
    chatter(f"Removed remote {r.name} ({r.url})")
