import click

from mmvc.cli import complete
from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand


@click.command("import", cls=MmvcCommand, examples=[
    ("mmvc import parquet 'fineweb/*.parquet' --text-field text --license odc-by", "one text item per row"),
    ("mmvc import coco coco2017/ --split val", "images with their captions"),
    ("mmvc import hf://datasets/openslr/librispeech_asr --split test --limit 100", "the first 100 items of a hub dataset"),
])
@click.argument("connector")
@click.argument("sources", nargs=-1, type=complete.FILE)
@click.option("--text-field", metavar="COL", help="Tables: the column whose text is the item.")
@click.option("--id-field", metavar="COL", help="Tables: a column of unique ids to name items by (default: file and row number).")
@click.option("--meta", "meta", metavar="COLS", help="Columns / sidecar fields to keep as metadata (comma-separated).")
@click.option("--license", "license_", metavar="ID", help="The license of the whole source (SPDX-style, e.g. cc-by-4.0).")
@click.option("--license-field", metavar="COL", help="A column holding each row's license.")
@click.option("--source", metavar="NAME", help="Short name of the source recorded per item (default: from the connector or dataset).")
@click.option("--prefix", metavar="PATH", help="Where the items go in the version (default: the source name).")
@click.option("--modality", metavar="NAME", shell_complete=complete.modalities, help="Force the modality of file items (text, image, video, audio, other).")
@click.option("--split", metavar="NAME", help="Dataset split (train, val …) for hf://, COCO and table folders.")
@click.option("--revision", metavar="REV", help="hf://: the dataset branch, tag or commit to read.")
@click.option("--limit", type=click.IntRange(0), metavar="N", help="Import at most N items (the first N, in source order).")
@click.option("--sample", type=click.IntRange(0), metavar="N", help="Import a random sample of N items (deterministic with --seed).")
@click.option("--seed", type=int, default=0, show_default=True, metavar="S", help="Seed for --sample.")
@click.option("--resume", is_flag=True, help="Continue an interrupted import of the same source from its checkpoints.")
@click.option("--replace", is_flag=True, help="Also unstage items under the prefix that the source no longer has.")
@click.option("--dry-run", "-n", "dry_run", is_flag=True, help="Read and hash everything; store and stage nothing.")
@click.option("-j", "--jobs", type=click.IntRange(1, 256), metavar="N", help="Reading processes (default: one per core).")
@json_option()
@pass_console
def command(con, connector, sources, text_field, id_field, meta, license_, license_field, source, prefix, modality, split, revision,
            limit, sample, seed, resume, replace, dry_run, jobs, as_json):
    """Stage items from a dataset, table, archive or bucket without copying them into the work tree.

    CONNECTOR is folder, parquet, jsonl, csv, coco, librispeech, finevideo, webdataset or one a
    package registers; or give a path or URL (s3://, gs://, hf://) directly and mmvc picks one.
    """
    from mmvc.cli.humanize import human_bytes
    from mmvc.repo import Repo

    repo = Repo.discover()
    with con.progress("importing", unit_bytes=False) as progress:
        r = repo.import_(connector, list(sources), text_field=text_field, id_field=id_field,
                         meta=[m.strip() for m in meta.split(",") if m.strip()] if meta else [], license=license_,
                         license_field=license_field, source=source, prefix=prefix, modality=modality, split=split,
                         revision=revision, limit=limit, sample=sample, seed=seed, resume=resume, replace=replace,
                         dry_run=dry_run, jobs=jobs, progress=progress)
    if as_json:
        con.json_value(r)
        return
    skipped = con.style("skipped", err=True, fg="yellow")
    for where, why in r.skipped[:20]:
        con.warn(f"{skipped} {where}: {why}")
    if len(r.skipped) > 20:
        con.warn(f"{skipped} {len(r.skipped) - 20} more (`--json` lists them all)")
    removed = con.style("would remove" if r.dry_run else "removed", fg="red")
    for p in r.removed[:20]:
        con.data(f"{removed} {p}")
    if len(r.removed) > 20:
        con.data(f"{removed} {len(r.removed) - 20} more (`--json` lists them all)")
    mods = ", ".join(f"{n} {m}" for m, n in sorted(r.by_modality.items()))
    verb = "would stage" if r.dry_run else "staged"
    where = f"{r.prefix}/" if r.prefix else "the top level"
    con.data(f"{r.connector} {r.uri}" + (f" @ {r.revision}" if r.revision else "") + f" → {where} (source {r.source!r})")
    con.data(f"{verb} {r.added} new, {r.modified} modified, {len(r.removed)} removed" + (f" ({mods})" if mods else "")
             + f"; {r.unchanged} unchanged, {len(r.skipped)} skipped; {r.selected} of {r.candidates} selected, "
             + f"{human_bytes(r.bytes)} in {r.seconds:.2f}s" + (f"; resumed {r.resumed_units} of {r.units} units" if r.resumed_units else ""))
    if not r.staged and not r.dry_run:
        con.data("nothing was imported, so nothing was staged or removed")
