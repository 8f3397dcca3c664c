import click

from mmvc.cli import complete
from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand


@click.command("process", cls=MmvcCommand, examples=[
    ("mmvc process", "run the pipeline over everything staged"),
    ("mmvc process --only text,image --text-model ./minilm", "two modalities, a local text model"),
])
@click.option("--ray-address", metavar="ADDR", help="Run on a Ray cluster (e.g. auto) instead of Ray local mode.")
@click.option("--num-gpus", type=float, help="GPUs per embedding actor (fractions allowed).")
@click.option("--batch-size", type=click.IntRange(1), help="Embedding batch size (default 64).")
@click.option("--only", metavar="MODALITIES", shell_complete=complete.modalities, help="Process only these modalities, e.g. text,image.")
@click.option("--text-model", metavar="ID|PATH", type=complete.FILE, help="Text embedding model; recorded in [process.models].")
@click.option("--image-model", metavar="ID|PATH", type=complete.FILE, help="CLIP model for images and video; recorded in [process.models].")
@json_option()
@pass_console
def command(con, ray_address, num_gpus, batch_size, only, text_model, image_model, as_json):
    """Decode, validate, gate, deduplicate and embed the staged items, recording a verdict for each."""
    from mmvc.repo import Repo

    repo = Repo.discover()
    with con.stages() as progress:
        r = repo.process(only=only.split(",") if only else None, text_model=text_model, image_model=image_model,
                         batch_size=batch_size, num_gpus=num_gpus, ray_address=ray_address, progress=progress)
    if as_json:
        con.json_value(r)
        return
    if not r.items:
        con.data("nothing staged to process")
        return
    parts = []
    for status in ("passed", "duplicate", "rejected"):
        per = r.counts.get(status, {})
        n = sum(per.values())
        detail = ", ".join(f"{v} {m}" for m, v in sorted(per.items()))
        parts.append(f"{n:,} {status}" + (f" ({detail})" if detail else ""))
    con.data(" · ".join(parts))
    off = [f for f, on in r.families.items() if not on]
    con.data(f"{r.items} item(s) in {r.seconds:.1f}s; {r.decoded} decoded, {r.embedded.get('text', 0)} text and "
             f"{r.embedded.get('clip', 0)} clip embeddings computed (the rest from the cache)"
             + (f"; embedding families off: {', '.join(off)}" if off else "")
             + (f" ({r.engine})" if r.engine != "none" else ""))
    if r.ran_on.get("mode") == "cluster":
        con.info(f"ran on the Ray cluster at {r.ran_on['address']} ({r.ran_on['nodes']} nodes; blobs through "
                 f"{'the remote' if r.ran_on['blobs'] == 'remote' else 'Ray'})")
    if r.counts.get("rejected") or r.counts.get("duplicate"):
        con.info("`mmvc report` lists why each item was rejected or deduplicated")
