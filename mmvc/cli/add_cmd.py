import click

from mmvc.cli.main import MmvcCommand


@click.command("add", cls=MmvcCommand)
@click.argument("paths", nargs=-1, required=True)
@click.option("--modality", metavar="NAME", help="Force the modality (text, image, video, audio) instead of detecting it.")
@click.option("-f", "--force", is_flag=True, help="Add files even if .mmvcignore ignores them.")
@click.option("-j", "--jobs", type=click.IntRange(1, 256), help="Hashing processes (default: one per core).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def command(paths, modality, force, jobs, as_json):
    """Hash and store files, folders or quoted globs ('audio/**/*.flac') and stage them."""
    from mmvc.cli.render import chatter, emit_json, human_bytes, progress_bar
    from mmvc.core.modality import parse_modality
    from mmvc.repo import Repo

    repo = Repo.discover()
    mod = parse_modality(modality) if modality else None
    with progress_bar("adding", enabled=not as_json) as progress:
        r = repo.add(list(paths), modality=mod, force=force, jobs=jobs, progress=progress)
    if as_json:
        emit_json(r)
        return
    from rich.markup import escape

    from mmvc.core.pathrules import display_path

    for key, why in r.skipped[:20]:
        chatter(f"[yellow]skipped[/] {escape(display_path(key))}: {why}")
    if len(r.skipped) > 20:
        chatter(f"[yellow]skipped[/] {len(r.skipped) - 20} more")
    for key, why in r.warnings[:20]:
        chatter(f"[yellow]warning[/] {escape(display_path(key))}: {why}")
    if len(r.warnings) > 20:
        chatter(f"[yellow]warning[/] {len(r.warnings) - 20} more path(s) some platform cannot check out")
    mods = ", ".join(f"{n} {m}" for m, n in sorted(r.by_modality.items()))
    chatter(
        f"staged {r.added} new, {r.modified} modified, {r.removed} removed"
        + (f" ({mods})" if mods else "")
        + f"; {r.unchanged} unchanged; hashed {human_bytes(r.bytes_hashed)} in {r.seconds:.2f}s"
    )
