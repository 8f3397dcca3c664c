"""`mmvc process` end to end: real Ray (local mode), real decoders, tiny seeded models built
through the real loading code, and the gate that commit enforces."""

from __future__ import annotations

import json
import os

import pytest

from mmvc.errors import GateError
from mmvc.core.families import BY_NAME as FAMILY_BY_NAME
from mmvc.repo import Repo
from tests.process_fixtures import STORY, build, jpeg, mp4, png, use_tiny_models, wav


def sample_files() -> dict:
    return {
        "images/a.png": png(1), "images/b.png": png(2), "images/a-copy.png": png(1),
        "images/broken.png": png(3)[:60],
        "text/story.txt": STORY + "\n",
        "text/story2.txt": STORY.replace("lazy", "idle") + "\n",  # as long as the original: the earlier path stays
        "text/other.txt": "Completely different words about databases, indexes, transactions and query planners in production systems.\n",
        "text/empty.txt": "",
        "text/latin1.txt": "caf\xe9 ol\xe9 ".encode("latin-1") * 5,
        "audio/tone.wav": wav(440), "audio/silent.wav": b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x10\0\0\0\1\0\1\0\x80>\0\0\0}\0\0\2\0\x10\0data\0\0\0\0",
    }


def tiny_repo(root, tiny_models, files: dict | None = None, **process_settings):
    """A gated repository on the tiny models with ``files`` staged; ``process_settings`` go
    under [process] (``in_process_max=0`` puts every stage on Ray)."""
    from mmvc.core.config import set_value

    repo = Repo.init(str(root))
    use_tiny_models(repo, tiny_models)
    for key, value in process_settings.items():
        set_value(repo, "process", key, value)
    repo.__dict__.pop("config", None)
    if files:
        build(root, files)
        repo.add(["."], cwd=repo.root)
    return repo


@pytest.fixture
def gated_repo(tmp_path, tiny_models, ray_local):
    return tiny_repo(tmp_path, tiny_models, sample_files())


def rows_by_path(repo, **kw) -> dict:
    from mmvc.ops.report import report

    return {row.path: row for row in report(repo, include_passed=True, **kw).rows}


def test_process_verdicts_gate_and_cache(gated_repo):
    repo = gated_repo
    with pytest.raises(GateError, match="not processed"):
        repo.commit("before processing")
    from mmvc.ops.process import process
    from mmvc.ops.report import report

    r = process(repo)
    assert r.items == 11
    rep = {row.path: row for row in report(repo, include_passed=True).rows}
    assert rep["images/broken.png"].status == "rejected" and rep["images/broken.png"].stage == "decode"
    assert rep["text/empty.txt"].status == "rejected"
    assert rep["text/latin1.txt"].status == "rejected" and rep["text/latin1.txt"].reason == "not_utf8"
    assert rep["audio/silent.wav"].status == "rejected"
    # identical bytes, so the same quality: the earlier path is kept, names compared without
    # their extension ("a" before "a-copy", though "a-copy.png" sorts first byte by byte)
    assert rep["images/a-copy.png"].status == "duplicate" and rep["images/a-copy.png"].duplicate_of == "images/a.png"
    assert rep["images/a-copy.png"].stage == "exact" and rep["images/a-copy.png"].kept == "same quality; earlier path"
    assert rep["text/story2.txt"].status == "duplicate" and rep["text/story2.txt"].duplicate_of == "text/story.txt"
    assert rep["text/story2.txt"].stage == "near"
    passed = sorted(p for p, row in rep.items() if row.status == "passed")
    assert passed == ["audio/tone.wav", "images/a.png", "images/b.png", "text/other.txt", "text/story.txt"]

    st = repo.status()
    assert sum(st.verdicts["passed"].values()) == 5 and sum(st.verdicts["rejected"].values()) == 4

    # nothing changed: everything comes from the cache and Ray is not even started
    again = process(repo)
    assert again.decoded == 0 and again.embedded == {"text": 0, "clip": 0}
    assert again.counts == r.counts

    c = repo.commit("curated")
    assert c.held == 6 and c.added == 5
    commit = repo.read_commit(c.oid)
    assert commit.gate.mode == "gated" and commit.gate.report and commit.gate.config == r.config
    assert sorted(e.path for e in repo.ls_files("HEAD")) == passed
    assert commit.gate.report == again.report


def test_config_change_makes_verdicts_stale(gated_repo):
    from mmvc.core.config import set_value
    from mmvc.ops.process import process

    repo = gated_repo
    process(repo)
    with repo.locked("config"):
        set_value(repo, "process.semantic", "eps", 0.02)
    repo.__dict__.pop("config", None)
    assert "stale" in repo.status().verdicts
    with pytest.raises(GateError, match="different process config"):
        repo.commit("stale")
    r = process(repo)
    assert r.decoded == 0  # only the semantic stage's config changed: decoding is reused
    repo.commit("fresh")


def test_exact_duplicate_of_head_and_ungated(gated_repo, tmp_path):
    from mmvc.ops.process import process

    repo = gated_repo
    process(repo)
    repo.commit("v1")
    build(repo.root, {"elsewhere/story-again.txt": STORY + "\n"})
    repo.add(["elsewhere"], cwd=repo.root)
    process(repo)
    from mmvc.ops.report import report

    [row] = [r for r in report(repo).rows if r.path == "elsewhere/story-again.txt"]
    assert row.status == "duplicate" and row.duplicate_of == "text/story.txt" and row.stage == "exact"

    raw = Repo.init(str(tmp_path / "raw"), ungated=True)
    build(raw.root, {"x.txt": ""})
    raw.add(["x.txt"], cwd=raw.root)
    assert raw.read_commit(raw.commit("raw").oid).gate.mode == "ungated"


def test_missing_model_names_it_and_the_fix(gated_repo):
    from mmvc.core.config import set_value
    from mmvc.errors import BadInputError
    from mmvc.ops.process import process

    repo = gated_repo
    with repo.locked("config"):
        set_value(repo, "process.models", "image", "no-such-org/no-such-clip")
    repo.__dict__.pop("config", None)
    with pytest.raises(BadInputError) as e:
        process(repo)
    assert "no-such-org/no-such-clip" in e.value.message and ("local" in (e.value.hint or "") or "clip" in (e.value.hint or ""))
    assert json.dumps(e.value.hint)


def test_ctrl_c_during_process_records_nothing(gated_repo):
    """An interrupted run leaves every staged item unprocessed, the lock released, and the
    repository usable; features it finished computing may stay cached."""
    import signal
    import subprocess
    import sys
    import time

    from mmvc.core.config import set_value

    repo = gated_repo
    set_value(repo, "process", "in_process_max", 0)  # a Ray run, the one with workers to stop
    before = open(os.path.join(repo.dir, "index"), "rb").read()
    proc = subprocess.Popen([sys.executable, "-m", "mmvc.cli.main", "-C", repo.root, "process"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    time.sleep(4)  # inside the Ray run (start-up alone takes longer than this)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("process finished before the interrupt arrived on this machine")
    assert proc.returncode == 130, err
    assert open(os.path.join(repo.dir, "index"), "rb").read() == before
    assert not os.path.exists(os.path.join(repo.dir, "lock"))
    assert "unprocessed" in repo.status().verdicts


def test_worker_killed_mid_batch_is_retried(gated_repo, tmp_path, monkeypatch):
    """A decode worker that dies once (as under the OOM killer) is restarted by Ray and its
    batch retried: the run completes with the same verdicts as an undisturbed one."""
    from mmvc.ops.process import process
    from mmvc.ops.report import report
    from mmvc.process.pipeline import FAILPOINT_ENV

    marker = tmp_path / "fired"
    monkeypatch.setenv(FAILPOINT_ENV, f"decode:text/other.txt:once:{marker}")
    process(gated_repo)
    assert marker.exists()  # the worker really died
    rep = {row.path: row for row in report(gated_repo, include_passed=True).rows}
    assert rep["text/other.txt"].status == "passed" and rep["images/b.png"].status == "passed"
    assert not any(row.reason == "worker_died" for row in rep.values())


def test_item_that_keeps_killing_its_worker_is_reported_not_fatal(gated_repo, monkeypatch):
    """An item whose decoding kills the worker on every retry becomes that item's rejection; the
    rest of the run completes, and since a death is not the item's verdict, it is not cached."""
    from mmvc.ops.process import process
    from mmvc.ops.report import report
    from mmvc.process.pipeline import FAILPOINT_ENV

    monkeypatch.setenv(FAILPOINT_ENV, "decode:text/other.txt")
    r = process(gated_repo)
    rep = {row.path: row for row in report(gated_repo, include_passed=True).rows}
    assert rep["text/other.txt"].status == "rejected" and rep["text/other.txt"].reason == "worker_died"
    assert rep["text/other.txt"].stage == "decode"
    assert rep["text/story.txt"].status == "passed" and rep["images/b.png"].status == "passed"
    assert sum(r.counts["passed"].values()) == 4

    monkeypatch.delenv(FAILPOINT_ENV)
    process(gated_repo)
    rep = {row.path: row for row in report(gated_repo, include_passed=True).rows}
    assert rep["text/other.txt"].status == "passed"


def test_embedding_worker_death_rejects_only_that_item(gated_repo, monkeypatch):
    from mmvc.ops.process import process
    from mmvc.ops.report import report
    from mmvc.process.pipeline import FAILPOINT_ENV

    oid = {e.path: e.oid for e in gated_repo.ls_files()}["images/b.png"]
    monkeypatch.setenv(FAILPOINT_ENV, f"embed:{oid}")
    process(gated_repo)
    rep = {row.path: row for row in report(gated_repo, include_passed=True).rows}
    assert (rep["images/b.png"].status, rep["images/b.png"].stage, rep["images/b.png"].reason) == ("rejected", "embed", "worker_died")
    assert rep["images/a.png"].status == "passed" and rep["text/story.txt"].status == "passed"


def test_near_duplicate_of_an_item_already_in_head(gated_repo):
    """A staged text a few words away from one already committed is a duplicate of HEAD's item;
    an edit of a committed file is not a duplicate of the version it replaces."""
    from mmvc.ops.process import process
    from mmvc.ops.report import report

    repo = gated_repo
    process(repo)
    repo.commit("curated")
    build(repo.root, {"text/story3.txt": STORY.replace("quick", "swift") + "\n",
                      "text/other.txt": "Completely different words about databases, indexes, transactions and query planners in busy production systems.\n"})
    repo.add(["text"], cwd=repo.root)
    process(repo)
    rep = {row.path: row for row in report(repo).rows}
    assert rep["text/story3.txt"].status == "duplicate" and rep["text/story3.txt"].stage == "near"
    assert rep["text/story3.txt"].duplicate_of == "text/story.txt"
    assert "text/other.txt" not in rep  # passed: the report lists only failures by default
    c = repo.commit("edit")
    assert c.modified == 1 and c.added == 0


def test_reprocess_keeps_a_near_copy_of_a_committed_item_out(tmp_path, tiny_models):
    """Regression: a committed picture, a byte-identical copy and a re-saved copy. The first run
    holds both copies back; after the commit, a second run with nothing changed used to let the
    re-saved copy pass (HEAD's item stopped anchoring the near tier because a staged item had
    its bytes), and the next commit recorded it."""
    from mmvc.errors import ConflictError
    from mmvc.ops.process import process

    original = png(7, (160, 120))
    repo = tiny_repo(tmp_path, tiny_models, {"img/astronaut.png": original, "img/astronaut_exact.png": original,
                                             "img/astronaut_copy.jpg": jpeg(original, quality=80)})
    process(repo)
    rows = rows_by_path(repo)
    assert (rows["img/astronaut_copy.jpg"].status, rows["img/astronaut_copy.jpg"].stage) == ("duplicate", "near")
    assert (rows["img/astronaut_exact.png"].status, rows["img/astronaut_exact.png"].stage) == ("duplicate", "exact")
    c = repo.commit("v1")
    assert (c.added, c.held) == (1, 2)

    process(repo)
    rows = rows_by_path(repo)
    assert rows["img/astronaut_copy.jpg"].status == "duplicate"
    assert rows["img/astronaut_copy.jpg"].duplicate_of == "img/astronaut.png"
    assert rows["img/astronaut_exact.png"].duplicate_of == "img/astronaut.png"
    with pytest.raises(ConflictError, match="nothing to commit"):
        repo.commit("v2")
    assert [e.path for e in repo.ls_files("HEAD")] == ["img/astronaut.png"]


def test_in_process_and_ray_give_the_same_verdicts(tmp_path, tiny_models, ray_local):
    """Small work runs in the driver without starting Ray; the same UDFs on Ray judge the same
    files the same way, and embed them to the same vectors (up to float rounding)."""
    import numpy as np

    from mmvc.ops.process import process
    from mmvc.process.cache import FeatureCache
    from mmvc.process.config import ProcessConfig

    seen = {}
    for engine, limit in (("in-process", 2000), ("ray", 0)):
        repo = tiny_repo(tmp_path / engine, tiny_models, sample_files(), in_process_max=limit)
        r = process(repo)
        assert r.engine == engine and r.decoded == 10  # eleven files, two with the same bytes
        rows = rows_by_path(repo)
        cfg = ProcessConfig.load(repo)
        vectors = {}
        for family in ("text", "clip"):
            cache = FeatureCache(repo, FAMILY_BY_NAME[family].stage, cfg.describe())
            vectors.update({(family, o): r["vector"] for o, r in cache.load({row.oid for row in rows.values()}).items()})
        seen[engine] = ({p: (x.status, x.stage, x.reason, x.duplicate_of) for p, x in rows.items()}, vectors)
    assert seen["in-process"][0] == seen["ray"][0]
    local, ray = seen["in-process"][1], seen["ray"][1]
    assert local.keys() == ray.keys() and len(local) == 4  # two texts, two pictures passed the near tier
    for k in local:
        assert np.allclose(local[k], ray[k], atol=1e-5), k


def test_keep_policy_keeps_the_better_copy_and_report_says_why(tmp_path, tiny_models):
    """The bundled sample's case: the copies sort before the original byte by byte, yet the
    original (more pixels, lossless) survives under the default policy; `oldest` keeps the
    file with the oldest modification time instead."""
    from click.testing import CliRunner

    from mmvc.cli.main import cli
    from mmvc.core.config import set_value
    from mmvc.ops.process import process

    original = png(11, (200, 150))
    repo = tiny_repo(tmp_path, tiny_models)
    build(tmp_path, {"images/ocean.png": original, "images/ocean-copy.png": _resized_png(original, 0.9),
                     "images/ocean-60.jpg": jpeg(original, quality=60)})
    for age, name in enumerate(("ocean-60.jpg", "ocean-copy.png", "ocean.png")):  # the worst copy is the oldest file
        os.utime(tmp_path / "images" / name, ns=(1_600_000_000_000_000_000 + age * 10**9,) * 2)
    repo.add(["images"], cwd=repo.root)
    process(repo)
    rows = rows_by_path(repo)
    for copy in ("images/ocean-copy.png", "images/ocean-60.jpg"):
        assert (rows[copy].status, rows[copy].stage, rows[copy].duplicate_of) == ("duplicate", "near", "images/ocean.png")
    assert rows["images/ocean-copy.png"].kept == "higher quality: 200×150 px at quality 100 against 180×135 px at quality 100"
    assert rows["images/ocean-60.jpg"].kept == "higher quality: 200×150 px at quality 100 against 200×150 px at quality 60"
    assert rows["images/ocean.png"].kept == "kept over 2 duplicate(s): images/ocean-60.jpg, images/ocean-copy.png"
    out = CliRunner().invoke(cli, ["-C", repo.root, "report"], catch_exceptions=False).output
    assert "images/ocean-60.jpg: duplicate of images/ocean.png  (kept: higher quality: 200×150 px at quality 100" in out

    set_value(repo, "process.dedup", "keep", "oldest")
    repo.__dict__.pop("config", None)
    process(repo)
    rows = rows_by_path(repo)
    assert rows["images/ocean-60.jpg"].status == "passed" and rows["images/ocean.png"].duplicate_of == "images/ocean-60.jpg"
    assert rows["images/ocean.png"].kept == "older file: 2020-09-13 12:26:40 against 2020-09-13 12:26:42"


def _resized_png(data: bytes, scale: float) -> bytes:
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(data))
    buf = io.BytesIO()
    img.resize((round(img.width * scale), round(img.height * scale)), Image.LANCZOS).save(buf, "PNG")
    return buf.getvalue()


def test_semantic_verdicts_stay_within_a_modality_by_default(tmp_path, tiny_models):
    """CLIP's family spans pictures and videos; a video is never held back as the semantic
    duplicate of a still picture unless [process.semantic] cross_modality says so. (A radius
    of eps 2 makes every pair of the family semantic duplicates.)"""
    from mmvc.core.config import set_value
    from mmvc.ops.process import process

    still = png(21, (96, 64))
    repo = tiny_repo(tmp_path, tiny_models, {"media/a-still.png": still, "media/b-clip.mp4": mp4(png(22, (96, 64)))})
    set_value(repo, "process.semantic", "eps", 2.0)
    repo.__dict__.pop("config", None)
    process(repo)
    assert {p: r.status for p, r in rows_by_path(repo).items()} == {"media/a-still.png": "passed", "media/b-clip.mp4": "passed"}

    set_value(repo, "process.semantic", "cross_modality", True)
    repo.__dict__.pop("config", None)
    process(repo)
    rows = rows_by_path(repo)
    assert (rows["media/b-clip.mp4"].status, rows["media/b-clip.mp4"].stage) == ("duplicate", "semantic")
    assert rows["media/b-clip.mp4"].kept == "different modalities; earlier path"


def test_other_files_are_staged_gated_by_the_exact_tier_and_their_rules_and_committed(tmp_path, tiny_models):
    """Arrays, blobs and checkpoints beside the media: `add` takes them as `other` (no question
    asked), `process` runs the exact tier and [process.gates.other] on them, `commit` records
    them, and `show`, `diff` and the catalog count them like the rest."""
    from mmvc.core.config import set_value
    from mmvc.core.modality import OTHER
    from mmvc.ops.process import process

    weights = b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }" + bytes(range(200))
    repo = tiny_repo(tmp_path, tiny_models, {"data/weights.npy": weights, "data/blob.bin": b"\x00\x01\x02 what is this",
                                             "data/copy-of-weights.bin": weights, "data/big.ckpt": bytes(5000),
                                             "text/story.txt": STORY + "\n"})
    assert {e.path: e.modality for e in repo.ls_files() if e.path.startswith("data/")} == dict.fromkeys(
        ["data/big.ckpt", "data/blob.bin", "data/copy-of-weights.bin", "data/weights.npy"], OTHER)
    set_value(repo, "process.gates.other", "max_size", 4096)
    repo.__dict__.pop("config", None)
    r = process(repo)
    assert r.counts["passed"] == {"other": 2, "text": 1} and r.counts["rejected"] == {"other": 1}
    rows = rows_by_path(repo)
    assert (rows["data/big.ckpt"].reason, rows["data/big.ckpt"].detail) == ("other_too_large", "5,000 bytes > max_size 4,096")
    # identical bytes: the earlier path survives (same quality); the copy is held back
    assert (rows["data/copy-of-weights.bin"].status, rows["data/copy-of-weights.bin"].duplicate_of) == ("passed", None)
    assert (rows["data/weights.npy"].status, rows["data/weights.npy"].stage) == ("duplicate", "exact")

    set_value(repo, "process.gates.other", "extensions", ["npy", "ckpt"])  # judged by name: no cache stands in the way
    repo.__dict__.pop("config", None)
    process(repo)
    rows = rows_by_path(repo)
    assert rows["data/blob.bin"].reason == "other_extension" and rows["data/copy-of-weights.bin"].reason == "other_extension"
    assert rows["data/weights.npy"].status == "passed"
    c = repo.commit("with arrays")
    assert c.by_modality == {"other": 1, "text": 1}
    assert repo.show("HEAD").by_modality["other"] == {"items": 1, "bytes": len(weights)}
    assert [(e.path, e.modality) for e in repo.ls_files("HEAD") if e.modality == OTHER] == [("data/weights.npy", OTHER)]


def test_ray_lines_stay_off_the_terminal_among_the_progress_bars(gated_repo):
    """On a terminal, a Ray run shows mmvc's bars and summary; Ray's own log lines (Ray Data's
    "Progress bars disabled", "execution finished") go to .mmvc/process/ray.log."""
    import pty
    import subprocess
    import sys

    from mmvc.core.config import set_value

    set_value(gated_repo, "process", "in_process_max", 0)
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "mmvc.cli.main", "-C", gated_repo.root, "process"],
                            stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env={**os.environ, "COLUMNS": "100"})
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        out += chunk
    assert proc.wait(timeout=600) == 0
    os.close(leader)
    text = out.decode("utf-8", "replace")
    assert "5 passed" in text and "(ray)" in text and "decode" in text  # the summary, the engine, a bar
    for ray_line in ("Progress bars disabled", "streaming_executor", " INFO ", " WARNING "):
        assert ray_line not in text, ray_line
