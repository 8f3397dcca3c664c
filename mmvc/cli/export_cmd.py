import click

from mmvc.cli import complete
from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand


@click.command("export", cls=MmvcCommand, examples=[
    ("mmvc export --webdataset out/ --rev v1 --shard-size 256MB --seed 7", "deterministic shards of a version"),
    ("mmvc export --webdataset s3://bucket/mix-v2 --recipe mix-v2", "a recipe's epoch, into a bucket"),
])
@click.option("--webdataset", "target", required=True, type=complete.DIR, metavar="TARGET", help="Folder or fsspec URL (s3://…) to write WebDataset shards into.")
@click.option("--rev", shell_complete=complete.revisions, help="Version to export (default HEAD).")
@click.option("--where", help="A catalog filter, e.g. \"source = 'coco'\".")
@click.option("--mix", help="Mixture: PREDICATE:WEIGHT,…")
@click.option("--epoch-size", type=int, help="Samples to export (with --mix; default: every selected item once).")
@click.option("--recipe", shell_complete=complete.recipes, help="Export a recipe (it fixes the version, filter, mixture, seed and epoch size).")
@click.option("--seed", type=int, help="Seed of the sample order (default 0).")
@click.option("--shard-size", help="Largest shard, e.g. 256MB (the default) or 1GiB.")
@click.option("--shard-items", type=int, help="Most samples per shard.")
@click.option("--with-embeddings", is_flag=True, help="Add each item's catalog vectors as .npy members.")
@click.option("-j", "--jobs", type=int, default=0, help="Shards written in parallel (0: one per core, up to 8).")
@click.option("--resume", is_flag=True, help="Finish an interrupted export with the same arguments.")
@click.option("-f", "--force", is_flag=True, help="Replace what the target holds.")
@click.option("--allow-ungated", is_flag=True, help="Allow a version whose items never passed `mmvc process`.")
@click.option("--verify-objects/--no-verify-objects", default=True, show_default=True,
              help="Re-hash every object read from the store against its id.")
@json_option()
@pass_console
def command(con, target, rev, where, mix, epoch_size, recipe, seed, shard_size, shard_items, with_embeddings, jobs, resume, force,
            allow_ungated, verify_objects, as_json):
    """Write a version (or a recipe) as deterministic WebDataset tar shards plus an index.json."""
    from mmvc.cli.humanize import human_bytes
    from mmvc.repo import Repo

    repo = Repo.discover()
    with con.progress("export") as bar:
        r = repo.export(target, rev=rev, where=where, recipe=recipe, mix=mix, seed=seed, epoch_size=epoch_size,
                        shard_size=shard_size, shard_items=shard_items, with_embeddings=with_embeddings, jobs=jobs,
                        resume=resume, force=force, allow_ungated=allow_ungated, verify_objects=verify_objects, progress=bar)
    if as_json:
        con.json_value(r)
        return
    if r.complete_already:
        con.data(f"{r.target} already holds this export (nothing to do)")
    con.data(f"{r.samples} samples in {r.shards} shards, {human_bytes(r.bytes)}" + (f" ({r.reused_shards} kept from before)" if r.reused_shards else ""))
    con.data(f"index   {r.index}")
    con.data(f"export  {r.export_id}")
    con.data(f"recipe  {(r.recipe_name + ' ') if r.recipe_name else ''}{r.recipe}")
    con.data(f"commit  {r.commit} ({r.rev})")
