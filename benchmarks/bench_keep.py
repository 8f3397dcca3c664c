#!/usr/bin/env python3
"""The keep policy on a planted set: originals and their re-encodes and resizes, which survives?

Plants pictures (PNG, or JPEG at quality 88–96; 240–640 px) each with one or two worse copies
(a JPEG re-encode at quality 40–80, a resize to 50–95 % saved like the original, or both) and
audio clips (16-bit WAV or FLAC) each with a lossy re-encode (Vorbis, MP3 where libsndfile has
it) or a downward resample. File names are seeded random hex, so an original sorts before its
copy only half the time. Then runs the real CLI in a gated repository (`init`, `add`,
`process`) and, for every planted pair the dedup grouped, checks which one survived: under
the default `keep = "quality"` (target: the original in ≥ 95 % of pairs), and under
`keep = "first-path"` for contrast (about half, by construction). The clip family is off (CLIP
is not bundled); the text model is not needed.

    python benchmarks/bench_keep.py [--pictures 60] [--clips 20] [--seed 0] [--mmvc "mmvc"]
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import planted  # noqa: E402


def plant(out: Path, pictures: int, clips: int, seed: int) -> list[dict]:
    """Write the set; return the pairs [{original, copy, modality, transform}]."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    pairs: list[dict] = []
    used: set[str] = set()

    def name(folder: str, ext: str) -> str:
        while True:
            rel = f"{folder}/{rng.integers(1 << 40):010x}.{ext}"
            if rel not in used:
                used.add(rel)
                return rel

    def put(rel: str, data: bytes) -> None:
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)

    for _ in range(pictures):
        w, h = int(rng.integers(240, 641)), int(rng.integers(240, 641))
        img = planted.synthetic_image(rng, w, h)
        q = int(rng.integers(88, 97))
        as_png = rng.random() < 0.5
        original = name("image", "png" if as_png else "jpg")
        put(original, planted._save(img, "PNG") if as_png else planted._save(img, "JPEG", quality=q))
        for transform in rng.choice(["reencode", "resize", "resize+reencode"], size=int(rng.integers(1, 3)), replace=False).tolist():
            copy = img
            if "resize" in transform:
                s = float(rng.uniform(0.5, 0.95))
                copy = img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.LANCZOS)
            if "reencode" in transform:
                rel, data = name("image", "jpg"), planted._save(copy, "JPEG", quality=int(rng.integers(40, 81)))
            elif as_png:
                rel, data = name("image", "png"), planted._save(copy, "PNG")
            else:
                rel, data = name("image", "jpg"), planted._save(copy, "JPEG", quality=q)
            put(rel, data)
            pairs.append({"original": original, "copy": rel, "modality": "image", "transform": transform})

    import soundfile as sf

    lossy = ["ogg"] + (["mp3"] if "MP3" in sf.available_formats() else [])
    for _ in range(clips):
        sr = int(rng.choice([22_050, 44_100]))
        y = planted.synthetic_audio(rng, sr, float(rng.uniform(3, 8)))
        as_flac = rng.random() < 0.3
        original = name("audio", "flac" if as_flac else "wav")
        put(original, planted._sf_bytes(y, sr, "FLAC" if as_flac else "WAV", "PCM_16"))
        transform = str(rng.choice(lossy + ["resample"]))
        if transform == "ogg":
            rel, data = name("audio", "ogg"), planted._sf_bytes(y, sr, "OGG", "VORBIS")
        elif transform == "mp3":
            rel, data = name("audio", "mp3"), planted._sf_bytes(y, sr, "MP3", "MPEG_LAYER_III")
        else:
            new_sr = 16_000 if sr == 22_050 else 22_050
            rel, data = name("audio", "wav"), planted._sf_bytes(planted._resample(y, sr, new_sr), new_sr, "WAV", "PCM_16")
        put(rel, data)
        pairs.append({"original": original, "copy": rel, "modality": "audio", "transform": transform})
    return pairs


def run(mmvc: list[str], args: list[str], cwd: Path) -> str:
    r = subprocess.run(mmvc + args, cwd=cwd, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise SystemExit(f"mmvc {' '.join(args)} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return r.stdout


def survivors(rows: list[dict], pairs: list[dict]) -> dict:
    """Of the planted pairs the dedup grouped (one a duplicate of the other, directly or
    through the chain of duplicate_of), the share whose original survived."""
    by_path = {r["path"]: r for r in rows}

    def kept(p: str) -> str:
        seen = set()
        while p in by_path and by_path[p]["status"] == "duplicate" and p not in seen:
            seen.add(p)
            p = by_path[p]["duplicate_of"]
        return p

    grouped = [p for p in pairs if kept(p["original"]) == kept(p["copy"])]
    won = [p for p in grouped if kept(p["original"]) == p["original"]]
    per: dict[str, list[int]] = {}
    for p in grouped:
        k = f"{p['modality']}/{p['transform']}"
        per.setdefault(k, [0, 0])
        per[k][0] += 1
        per[k][1] += kept(p["original"]) == p["original"]
    return {"pairs": len(pairs), "grouped": len(grouped), "original_kept": len(won),
            "original_kept_rate": round(len(won) / len(grouped), 4) if grouped else None,
            "by_transform": {k: {"grouped": n, "original_kept": w} for k, (n, w) in sorted(per.items())},
            "copies_kept": [p["copy"] for p in grouped if kept(p["original"]) != p["original"]][:20]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pictures", type=int, default=60)
    ap.add_argument("--clips", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", default=str(BENCH.parent / "bench-work" / "keep"))
    ap.add_argument("--mmvc", default=str(BENCH.parent / ".venv" / "bin" / "mmvc"), help="the mmvc command (split like a shell)")
    a = ap.parse_args()
    mmvc = shlex.split(a.mmvc)
    work = Path(a.workdir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    pairs = plant(work, a.pictures, a.clips, a.seed)
    run(mmvc, ["init"], work)
    run(mmvc, ["config", "process.families.clip", "false"], work)
    run(mmvc, ["add", "."], work)
    result = {"command": "python benchmarks/bench_keep.py " + " ".join(sys.argv[1:]), "policies": {}}
    for policy in ("quality", "first-path"):
        run(mmvc, ["config", "process.dedup.keep", policy], work)
        t = time.perf_counter()
        run(mmvc, ["process"], work)
        rows = json.loads(run(mmvc, ["report", "--all", "--json"], work))
        result["policies"][policy] = {**survivors(rows, pairs), "process_s": round(time.perf_counter() - t, 1)}
    result["target_met"] = (result["policies"]["quality"]["original_kept_rate"] or 0) >= 0.95
    print(json.dumps(result, indent=1))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
