"""The whole path on a gated repository: `mmvc process` (real Ray local mode, tiny seeded
models), commit, recipe, export with the catalog's embeddings, and the loader reading it."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest

from mmvc.repo import Repo
from tests.process_fixtures import use_tiny_models


def test_gated_version_exports_with_embeddings_and_loads(tmp_path, tiny_models, ray_local):
    import webdataset as wds

    from mmvc.errors import GateError
    from mmvc.loader import MMVCDataset
    from mmvc.ops.export import export
    from mmvc.ops.process import process
    from mmvc.ops.recipe import create_recipe
    from tests.export.versions import png

    repo = Repo.init(str(tmp_path / "repo"))
    use_tiny_models(repo, tiny_models)
    files = {f"images/p{i}.png": png(100 + i, (64, 48)) for i in range(4)}
    files.update({f"text/t{i}.txt": (f"Sentence number {i} talks about " + " ".join(["rivers", "cities", "music", "trains"][: i + 1])
                                     + " and many other ordinary things in daily life.\n").encode() for i in range(4)})
    for rel, data in files.items():
        os.makedirs(os.path.dirname(os.path.join(repo.root, rel)), exist_ok=True)
        with open(os.path.join(repo.root, rel), "wb") as f:
            f.write(data)
    repo.add(["."], cwd=repo.root)
    process(repo)
    repo.commit("curated")
    info = create_recipe(repo, "train", "main", where="modality = 'image' OR modality = 'text'",
                         mix="modality = 'image':1,modality = 'text':1", seed=3, epoch_size=12)
    assert [c["samples"] for c in info.components] == [6, 6]
    out = str(tmp_path / "out")
    res = export(repo, out, recipe="train", with_embeddings=True, shard_items=5)
    assert res.samples == 12 and res.shards == 3
    shards = sorted(os.path.join(out, n) for n in os.listdir(out) if n.endswith(".tar"))
    kinds = set()
    for s in wds.WebDataset(shards, shardshuffle=False, empty_check=False):
        meta = json.loads(s["json"])
        if meta["modality"] == "image":
            v = np.load(io.BytesIO(s["clip_vector.npy"]))
            assert v.shape == (512,) and v.dtype == np.float32 and abs(float(np.linalg.norm(v)) - 1) < 1e-3
        else:
            v = np.load(io.BytesIO(s["text_vector.npy"]))
            assert v.shape == (384,)
        kinds.add(meta["modality"])
    assert kinds == {"image", "text"}
    got = list(MMVCDataset(out, seed=1))  # a gated export needs no opt-in
    assert len(got) == 12 and all(("clip_vector" in g) == (g["modality"] == "image") for g in got)
    # the store path reads the same recipe without an export
    assert sorted(g["key"] for g in MMVCDataset(repo=repo, recipe="train", seed=1)) == sorted(g["key"] for g in got)
    ungated = Repo.init(str(tmp_path / "raw"), ungated=True)
    from tests.export.versions import make_version

    make_version(ungated, {"a.txt": b"raw text\n"})
    with pytest.raises(GateError):
        export(ungated, str(tmp_path / "raw-out"))
