import click

from mmvc.cli import complete
from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand


@click.command("add", cls=MmvcCommand, examples=[
    ("mmvc add images/", "hash, store and stage a folder"),
    ("mmvc add 'audio/**/*.flac' --modality audio", "a quoted glob, its modality forced"),
])
@click.argument("paths", nargs=-1, required=True, type=complete.FILE)
@click.option("--modality", metavar="NAME", shell_complete=complete.modalities, help="Force the modality (text, image, video, audio, other) instead of detecting it.")
@click.option("-f", "--force", is_flag=True, help="Add files even if .mmvcignore ignores them.")
@click.option("-j", "--jobs", type=click.IntRange(1, 256), help="Hashing processes (default: one per core).")
@json_option()
@pass_console
def command(con, paths, modality, force, jobs, as_json):
    """Hash and store files, folders or quoted globs ('audio/**/*.flac') and stage them."""
    from mmvc.cli.humanize import human_bytes
    from mmvc.repo import Repo

    repo = Repo.discover()
    with con.progress("adding") as progress:
        r = repo.add(list(paths), modality=modality, force=force, jobs=jobs, progress=progress)
    if as_json:
        con.json_value(r)
        return
    from mmvc.core.pathrules import display_path

    skipped = con.style("skipped", err=True, fg="yellow")
    for key, why in r.skipped[:20]:
        con.warn(f"{skipped} {display_path(key)}: {why}")
    if len(r.skipped) > 20:
        con.warn(f"{skipped} {len(r.skipped) - 20} more (`--json` lists them all)")
    warning = con.style("warning", err=True, fg="yellow")
    for key, why in r.warnings[:20]:
        con.warn(f"{warning} {display_path(key)}: {why}")
    if len(r.warnings) > 20:
        con.warn(f"{warning} {len(r.warnings) - 20} more path(s) some platform cannot check out")
    mods = ", ".join(f"{n} {m}" for m, n in sorted(r.by_modality.items()))
    con.data(
        f"staged {r.added} new, {r.modified} modified, {r.removed} removed"
        + (f" ({mods})" if mods else "")
        + f"; {r.unchanged} unchanged; hashed {human_bytes(r.bytes_hashed)} in {r.seconds:.2f}s"
    )
