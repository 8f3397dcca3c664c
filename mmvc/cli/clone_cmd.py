import click

from mmvc.cli import complete
from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand


@click.command("clone", cls=MmvcCommand, examples=[
    ("mmvc clone s3://bucket/datasets/captions", "a full clone into ./captions"),
    ("mmvc clone s3://bucket/datasets/captions ci --filter blob:none --no-checkout", "history only, for a CI diff"),
])
@click.argument("url", type=complete.FILE)
@click.argument("directory", required=False, type=complete.DIR)
@click.option("-b", "--branch", help="Check out this branch instead of the remote's default.")
@click.option("--filter", "filter_", type=click.Choice(["blob:none"]),
              help="blob:none: fetch commits and manifests only; blobs come on first use.")
@click.option("--sparse", "sparse", multiple=True, metavar="GLOB", help="Materialise only matching items (repeatable).")
@click.option("-n", "--no-checkout", is_flag=True, help="Write no files: the version is in the index, outside the work tree.")
@click.option("--endpoint-url", metavar="URL", help="S3-compatible endpoint (else AWS_ENDPOINT_URL or the AWS default).")
@click.option("-j", "--jobs", default=8, show_default=True, help="Parallel downloads.")
@json_option()
@pass_console
def command(con, url, directory, branch, filter_, sparse, no_checkout, endpoint_url, jobs, as_json):
    """Make a new repository in DIRECTORY from the remote at URL and check out its default branch."""
    from mmvc.cli.humanize import human_bytes
    from mmvc.repo import Repo

    with con.progress("cloning") as progress:
        r = Repo.clone(url, directory, branch=branch, filter=filter_, sparse=list(sparse), no_checkout=no_checkout,
                       endpoint_url=endpoint_url, progress=progress, jobs=jobs)
    if as_json:
        con.json_value(r)
        return
    for w in r.warnings:
        con.warn(f"{con.style('warning:', err=True, fg='yellow')} {w}")
    f = r.fetch
    con.data(f"Cloned {r.url} into {r.path}: {f.commits} commit(s), {f.nodes} manifest node(s), {human_bytes(f.bytes)} "
             f"({r.seconds:.1f}s)")
    if r.branch:
        how = "partial clone: blobs are fetched on first use" if r.filter else ""
        con.data(f"On branch {r.branch} at {r.commit[:12]}: {r.written} file(s) written"
                 + (f", {r.sparse_skipped} left outside the work tree" if r.sparse_skipped else "")
                 + (f"; {how} ({r.blobs_fetched} fetched so far)" if how else ""))
