import click

from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand

SHOW = 50
SHOW_VERSIONS = 5


@click.command("fsck", cls=MmvcCommand, examples=[
    ("mmvc fsck", "re-hash every object and check every version"),
    ("mmvc fsck --quick --json", "check presence only, as JSON"),
])
@click.option("--quick", is_flag=True, help="Check structure only (objects present, commits and nodes decode); no rehashing.")
@json_option("Print the findings as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="List every finding instead of the first 50.")
@click.pass_context
@pass_console
def command(con, ctx, quick, as_json, verbose):
    """Check that every version, the index and the object store are whole.

    Walks every ref, HEAD, reflogs and the index down to every blob; without --quick it also
    re-hashes every object and pack. Exits 7 when anything is missing or corrupt."""
    from contextlib import nullcontext

    from mmvc.cli.humanize import human_bytes
    from mmvc.errors import ExitCode
    from mmvc.repo import Repo

    repo = Repo.discover()
    with nullcontext() if quick else con.progress("verifying") as progress:
        r = repo.fsck(quick=quick, progress=progress)
    if as_json:
        con.json_value(r)
    else:
        out, style = con.data, con.style
        hashed = f"; {human_bytes(r.bytes_hashed)} hashed" if r.mode == "full" else ""
        out(f"checked {r.commits} commits, {r.nodes} nodes, {r.blobs} blobs"
            + (f", {r.other_objects} other objects" if r.other_objects else "")
            + f" from {r.roots} names ({r.mode}{hashed}; {r.packs} packs, {r.loose} loose objects) in {r.seconds:.2f}s")
        limit = None if verbose else SHOW
        for severity, items, color in (("error", r.errors, "red"), ("warning", r.warnings, "yellow"), ("info", r.info, None)):
            for f in items[:limit]:
                size = f" ({human_bytes(f.bytes)})" if f.count else ""
                out(style(f"{severity}: ", fg=color, bold=bool(color)) + f.message + size)
                if f.versions:
                    shown = " ".join(v[:12] for v in f.versions[:SHOW_VERSIONS])
                    more = f" and {len(f.versions) - SHOW_VERSIONS} more" if len(f.versions) > SHOW_VERSIONS else ""
                    out(f"    breaks {len(f.versions)} version(s): {shown}{more}")
                if f.refs:
                    out(f"    reached from: {', '.join(f.refs[:10])}" + (" …" if len(f.refs) > 10 else ""))
                if f.hint:
                    out(f"    hint: {f.hint}")
            if limit is not None and len(items) > limit:
                out(f"… and {len(items) - limit} more {severity}s (-v or --json lists all)")
        if r.ok:
            extra = f" ({len(r.warnings)} warning(s))" if r.warnings else ""
            out(style("fsck: no missing or corrupt objects", fg="green") + extra)
        else:
            out(style(f"fsck: {len(r.errors)} error(s), {len(r.warnings)} warning(s); "
                            f"{len(r.broken_versions)} version(s) broken", fg="red", bold=True))
    if not r.ok:
        ctx.exit(ExitCode.CORRUPT)
