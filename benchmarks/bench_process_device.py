#!/usr/bin/env python3
"""The whole `mmvc process` on an accelerator, against a bare loop over the same model.

Builds a repository of distinct images and texts, runs `process` (Ray local mode, CPU decode
stage, CPU tokenise / pixel stages, one GPU actor per family) and then, in the same process on
the same device, the bare loop: the model alone over batches tokenised or pre-processed and moved
to the device beforehand, `torch.inference_mode()`, the same dtype and batch size. Prints items/s
of each family's embed stage two ways and their ratio to the bare loop:

* stage: the whole stage's wall time, Ray dataset creation, CPU stages and the GPU actor's start
  and model load included;
* steady: from the first vectors coming back to the last (what a long run converges to).

Two references: the model alone over inputs prepared beforehand (an upper bound no pipeline that
must decode reaches), and a plain torch DataLoader loop over the same inputs as the embed stage
(the cached PNG thumbnails, the texts) with as many workers as the pipeline's CPU stages decoding
and tokenising, which is what a hand-written embedding job does.

    python benchmarks/bench_process_device.py --images 40000 --texts 100000 --batch-size 256 \
        --tokenizer DIR_WITH_MINILM_TOKENIZER

Models are MiniLM-L6 and CLIP ViT-B/32 built from their configs with random, seeded weights:
throughput does not depend on weight values. Without a GPU it runs on CPUs (small sizes).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))


def _write_images(args) -> int:
    import numpy as np
    from PIL import Image

    root, start, stop, seed = args
    for i in range(start, stop):
        rng = np.random.default_rng(seed * 1_000_003 + i)
        small = rng.integers(0, 256, size=(12, 16, 3), dtype=np.uint8)  # distinct blocky pictures
        img = Image.fromarray(small).resize((256, 192), Image.Resampling.BILINEAR)
        img.save(os.path.join(root, f"{i:07d}.png"), compress_level=1)
    return stop - start


def build_repo(root: str, n_images: int, n_texts: int, seed: int, jobs: int):
    from bench_embed import corpus

    from mmvc.repo import Repo

    os.makedirs(os.path.join(root, "images"))
    os.makedirs(os.path.join(root, "texts"))
    step = max(1, n_images // (jobs * 4) + 1)
    with ProcessPoolExecutor(jobs) as pool:
        list(pool.map(_write_images, [(os.path.join(root, "images"), a, min(a + step, n_images), seed) for a in range(0, n_images, step)]))
    for i, t in enumerate(corpus(n_texts, seed)):
        with open(os.path.join(root, "texts", f"{i:07d}.txt"), "w") as f:
            f.write(f"{t} ({i})\n")
    repo = Repo.init(root)
    repo.add(["."], cwd=root)
    return repo


class Clock:
    """Progress callback that notes when each stage's first and last vectors arrived."""

    def __init__(self):
        self.first: dict[str, tuple[float, int]] = {}
        self.last: dict[str, tuple[float, int]] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if done and stage not in self.first:
            self.first[stage] = (now, done)
        if done:
            self.last[stage] = (now, done)

    def steady(self, stage: str) -> float | None:
        if stage not in self.first or self.last[stage][1] <= self.first[stage][1]:
            return None
        (t0, n0), (t1, n1) = self.first[stage], self.last[stage]
        return (n1 - n0) / (t1 - t0)


def bare_text(path: str, texts: list[str], bs: int, device, dtype) -> float:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval().to(device=device, dtype=dtype)
    batches = [tok(texts[i:i + bs], padding=True, truncation=True, max_length=256, return_tensors="pt") for i in range(0, len(texts), bs)]
    batches = [{k: v.to(device) for k, v in b.items()} for b in batches]
    with torch.inference_mode():
        for b in batches[:3]:
            model(**b)
        torch.cuda.synchronize() if device.type == "cuda" else None
        t = time.perf_counter()
        for b in batches:
            out = model(**b).last_hidden_state
            m = b["attention_mask"].unsqueeze(-1).to(out.dtype)
            torch.nn.functional.normalize((out * m).sum(1) / m.sum(1), dim=-1).float().cpu()
        torch.cuda.synchronize() if device.type == "cuda" else None
    return len(texts) / (time.perf_counter() - t)


def bare_clip(path: str, pictures, bs: int, device, dtype) -> float:
    import torch
    from transformers import CLIPModel

    from mmvc.process.models import load_image_processor

    model = CLIPModel.from_pretrained(path).eval().to(device=device, dtype=dtype)
    proc = load_image_processor(path)
    distinct = proc(images=pictures[:64], return_tensors="pt")["pixel_values"]
    n = len(pictures)
    pixels = distinct[torch.arange(n) % len(distinct)].to(device=device, dtype=dtype)
    with torch.inference_mode():
        model.get_image_features(pixel_values=pixels[:bs])
        torch.cuda.synchronize() if device.type == "cuda" else None
        t = time.perf_counter()
        for i in range(0, n, bs):
            out = model.get_image_features(pixel_values=pixels[i:i + bs])
            out = out if isinstance(out, torch.Tensor) else out.pooler_output
            torch.nn.functional.normalize(out, dim=-1).float().cpu()
        torch.cuda.synchronize() if device.type == "cuda" else None
    return n / (time.perf_counter() - t)


def loader_text(path: str, texts: list[str], bs: int, device, dtype, workers: int) -> float:
    """A plain torch DataLoader loop: workers tokenise batches, the main loop runs the model."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval().to(device=device, dtype=dtype)
    collate = lambda batch: tok(batch, padding=True, truncation=True, max_length=256, return_tensors="pt")  # noqa: E731
    dl = torch.utils.data.DataLoader(texts, batch_size=bs, num_workers=workers, collate_fn=collate, pin_memory=device.type == "cuda",
                                     prefetch_factor=4, persistent_workers=False)
    t = time.perf_counter()
    with torch.inference_mode():
        for b in dl:
            b = {k: v.to(device, non_blocking=True) for k, v in b.items()}
            out = model(**b).last_hidden_state
            m = b["attention_mask"].unsqueeze(-1).to(out.dtype)
            torch.nn.functional.normalize((out * m).sum(1) / m.sum(1), dim=-1).float().cpu()
    return len(texts) / (time.perf_counter() - t)


class _PngCrops:
    """Dataset of PNG thumbnails; each worker decodes, resizes and crops as CLIP's processor does."""

    def __init__(self, pngs, path):
        self.pngs, self.path, self.prep = pngs, path, None

    def __len__(self):
        return len(self.pngs)

    def __getitem__(self, i):
        import io

        import numpy as np
        import torch
        from PIL import Image

        if self.prep is None:
            from mmvc.process.udfs import ClipPixelsUDF

            self.prep = ClipPixelsUDF(self.path)
        return torch.from_numpy(self.prep.crop(np.asarray(Image.open(io.BytesIO(self.pngs[i])).convert("RGB"))))


def loader_clip(path: str, pngs: list[bytes], bs: int, device, dtype, workers: int) -> float:
    import torch
    from transformers import CLIPModel

    from mmvc.process.models import load_image_processor

    model = CLIPModel.from_pretrained(path).eval().to(device=device, dtype=dtype)
    proc = load_image_processor(path)
    mean = torch.tensor(proc.image_mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(proc.image_std, device=device).view(1, 3, 1, 1)
    dl = torch.utils.data.DataLoader(_PngCrops(pngs, path), batch_size=bs, num_workers=workers, pin_memory=device.type == "cuda",
                                     prefetch_factor=4)
    t = time.perf_counter()
    with torch.inference_mode():
        for x in dl:
            x = x.to(device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255).sub_(mean).div_(std).to(dtype)
            out = model.get_image_features(pixel_values=x)
            out = out if isinstance(out, torch.Tensor) else out.pooler_output
            torch.nn.functional.normalize(out, dim=-1).float().cpu()
    return len(pngs) / (time.perf_counter() - t)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--texts", type=int, default=4000)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--tokenizer", default=None, help="folder with MiniLM's tokenizer (default: the bundled model's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    import numpy as np
    import torch

    from mmvc.core.config import set_value
    from mmvc.ops.process import process
    from mmvc.process import tiny_models

    gpu = torch.cuda.is_available()
    device = torch.device("cuda" if gpu else "cpu")
    dtype = torch.bfloat16 if gpu else torch.float32
    work = args.workdir or tempfile.mkdtemp(prefix="mmvc-bench-device-")
    models = os.path.join(work, "models")
    text_path = tiny_models.build_random_minilm(os.path.join(models, "minilm"), seed=0, tokenizer_from=args.tokenizer)
    clip_path = tiny_models.build_random_clip_b32(os.path.join(models, "clip"), seed=0)
    jobs = os.cpu_count() or 2

    t = time.perf_counter()
    repo = build_repo(os.path.join(work, "repo"), args.images, args.texts, args.seed, jobs)
    built = time.perf_counter() - t
    with repo.locked("config"):
        set_value(repo, "process.models", "text", text_path)
        set_value(repo, "process.models", "image", clip_path)
        set_value(repo, "process.semantic", "eps", 1e-7)
    repo.__dict__.pop("config", None)

    clock = Clock()
    t = time.perf_counter()
    res = process(repo, batch_size=args.batch_size, num_gpus=1 if gpu else None, progress=clock)
    total = time.perf_counter() - t

    from bench_embed import corpus
    from PIL import Image

    texts = [f"{s} ({i})" for i, s in enumerate(corpus(args.texts, args.seed))]
    pictures = [np.asarray(Image.open(os.path.join(repo.root, "images", f"{i:07d}.png")).convert("RGB")) for i in range(min(64, args.images))]
    bare = {"text": bare_text(text_path, texts, args.batch_size, device, dtype),
            "clip": bare_clip(clip_path, pictures * (args.images // len(pictures) + 1), args.batch_size, device, dtype)}
    # the same inputs as the pipeline's embed stage (its cached PNG thumbnails), decoded and
    # tokenised by DataLoader workers: as many as the pipeline's CPU stages get
    from mmvc.process.cache import FeatureCache
    from mmvc.process.config import ProcessConfig

    cfg = ProcessConfig.load(repo)
    oids = {e.oid for e in repo.ls_files() if e.path.startswith("images/")}
    pngs = [r["thumb"] for r in FeatureCache(repo, "prep", cfg.stage_hash("gates")).load(oids).values() if r.get("thumb")]
    workers = max(1, jobs - 1)
    loop = {"text": loader_text(text_path, texts, args.batch_size, device, dtype, workers),
            "clip": loader_clip(clip_path, pngs, args.batch_size, device, dtype, workers)}

    out = {"device": torch.cuda.get_device_name(0) if gpu else "cpu", "dtype": str(dtype).replace("torch.", ""),
           "batch_size": args.batch_size, "images": args.images, "texts": args.texts, "build_s": round(built, 1),
           "process_s": round(total, 1), "stages_s": res.stages, "embedded": res.embedded, "families": {}}
    for fam in ("text", "clip"):
        n = res.embedded[fam]
        stage_s = res.stages.get(f"embed {fam}")
        stage = n / stage_s if stage_s else None
        steady = clock.steady(f"embed {fam}")
        out["families"][fam] = {"items": n, "stage_items_s": round(stage or 0, 1), "steady_items_s": round(steady or 0, 1),
                                "bare_items_s": round(bare[fam], 1), "loader_items_s": round(loop[fam], 1),
                                "steady_vs_loader": round(steady / loop[fam], 3) if steady else None,
                                "stage_ratio": round(stage / bare[fam], 3) if stage else None,
                                "steady_ratio": round(steady / bare[fam], 3) if steady else None}
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"{out['device']} {out['dtype']} batch {args.batch_size}: {args.images} images, {args.texts} texts; "
              f"process {total:.1f} s, stages {res.stages}")
        for fam, f in out["families"].items():
            print(f"  {fam:5s} {f['items']:7d} items  stage {f['stage_items_s']:9.1f}/s ({f['stage_ratio']})  "
                  f"steady {f['steady_items_s']:9.1f}/s ({f['steady_ratio']})  bare {f['bare_items_s']:9.1f}/s  "
                  f"DataLoader loop {f['loader_items_s']:9.1f}/s (steady/loop {f['steady_vs_loader']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
