"""Small mirrors of real dataset layouts, built by the tests: FineWeb-like Parquet, a COCO
captions tree, a LibriSpeech subset, FineVideo mp4 + json, WebDataset shards."""

from __future__ import annotations

import io
import json
import os
import tarfile

import numpy as np

WORDS = ("data model train image caption river mountain learning vector index query sound video frame "
         "token batch shard version commit branch merge quality filter dedup embed search").split()


def text_row(i: int, n_words: int = 40) -> str:
    rng = np.random.default_rng(i)
    return " ".join(WORDS[j] for j in rng.integers(0, len(WORDS), n_words)) + f" #{i}"


def fineweb(root, files: int = 2, rows: int = 50, row_group: int = 20) -> list[str]:
    """``root/data/train-0000N.parquet`` with text, url, score, language, license columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = os.path.join(root, "data")
    os.makedirs(d, exist_ok=True)
    out = []
    for f in range(files):
        base = f * rows
        t = pa.table({
            "text": [text_row(base + i) for i in range(rows)],
            "id": [f"doc-{base + i:05d}" for i in range(rows)],
            "url": [f"https://example.org/{base + i}" for i in range(rows)],
            "score": [round((base + i) / 100, 2) for i in range(rows)],
            "language": ["en"] * rows,
            "license": ["odc-by" if i % 2 else "cc-by-4.0" for i in range(rows)],
        })
        path = os.path.join(d, f"train-{f:05d}.parquet")
        pq.write_table(t, path, row_group_size=row_group)
        out.append(path)
    return out


def jpeg(seed: int, size=(32, 24)) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    buf = io.BytesIO()
    img.save(buf, "JPEG")
    return buf.getvalue()


def coco(root, split: str = "val2017", images: int = 4, missing: tuple = (), size=(64, 48)) -> str:
    """``annotations/captions_<split>.json`` + ``<split>/*.jpg``; ``missing`` names image ids whose
    file is left out."""
    os.makedirs(os.path.join(root, "annotations"), exist_ok=True)
    os.makedirs(os.path.join(root, split), exist_ok=True)
    doc = {"info": {"year": 2017}, "licenses": [
        {"id": 1, "name": "Attribution-NonCommercial-ShareAlike License", "url": "http://creativecommons.org/licenses/by-nc-sa/2.0/"},
        {"id": 4, "name": "Attribution License", "url": "http://creativecommons.org/licenses/by/2.0/"}],
        "images": [], "annotations": []}
    ann = 1000
    for i in range(1, images + 1):
        name = f"{i:012d}.jpg"
        doc["images"].append({"id": i, "file_name": name, "width": size[0], "height": size[1], "license": 1 if i % 2 else 4,
                              "coco_url": f"http://images.cocodataset.org/{split}/{name}"})
        for c in range(2):
            ann += 1
            doc["annotations"].append({"id": ann, "image_id": i, "caption": f"image {i} caption {c}"})
        if i not in missing:
            with open(os.path.join(root, split, name), "wb") as f:
                f.write(jpeg(i, size))
    path = os.path.join(root, "annotations", f"captions_{split}.json")
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


def flac(seed: int, secs: float = 0.5, rate: int = 16000) -> bytes:
    import soundfile as sf

    t = np.arange(int(secs * rate)) / rate
    data = (0.3 * np.sin(2 * np.pi * (220 + 40 * seed) * t)).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, data, rate, format="FLAC")
    return buf.getvalue()


def librispeech(root, subset: str = "dev-clean", missing: tuple = ()) -> str:
    """``LibriSpeech/<subset>/<speaker>/<chapter>/`` with ``*.trans.txt`` and ``*.flac``."""
    base = os.path.join(root, "LibriSpeech", subset)
    n = 0
    for speaker, chapter in ((84, 121123), (174, 50561)):
        d = os.path.join(base, str(speaker), str(chapter))
        os.makedirs(d, exist_ok=True)
        lines = []
        for u in range(3):
            utt = f"{speaker}-{chapter}-{u:04d}"
            lines.append(f"{utt} SPEAKER {speaker} SAYS LINE {u}")
            if utt not in missing:
                with open(os.path.join(d, utt + ".flac"), "wb") as f:
                    f.write(flac(n))
            n += 1
        with open(os.path.join(d, f"{speaker}-{chapter}.trans.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
    return base


MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"


def finevideo(root, videos: int = 3) -> str:
    d = os.path.join(root, "finevideo")
    os.makedirs(d, exist_ok=True)
    for i in range(videos):
        with open(os.path.join(d, f"vid{i:03d}.mp4"), "wb") as f:
            f.write(MP4_HEAD + bytes([i]) * 64)
        with open(os.path.join(d, f"vid{i:03d}.json"), "w") as f:
            json.dump({"youtube_title": f"title {i}", "duration_seconds": 10 + i, "content_metadata": {"description": f"a video about {i}"},
                       "youtube_channel": "chan", "license": "cc-by-4.0"}, f)
    return d


def webdataset_shards(root, shards: int = 2, per_shard: int = 3) -> list[str]:
    import webdataset as wds

    d = os.path.join(root, "shards")
    os.makedirs(d, exist_ok=True)
    out = []
    k = 0
    for s in range(shards):
        path = os.path.join(d, f"{s:03d}.tar")
        with wds.TarWriter(path) as w:
            for _ in range(per_shard):
                w.write({"__key__": f"sample{k:04d}", "jpg": jpeg(100 + k), "txt": f"caption of {k}",
                         "json": {"license": "cc-by-4.0", "aesthetic": k / 10}})
                k += 1
        out.append(path)
    return out


def evil_tar(path, name: str) -> str:
    with tarfile.open(path, "w") as t:
        data = b"pwned"
        info = tarfile.TarInfo(name)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return path
