"""User-defined stages (mmvc.process.stages): declared in this module and named by the config,
or registered by an installed distribution's ``mmvc.stages`` entry point; their outputs become
catalog columns, gates reject on them, a version bump recomputes only that stage, and a stage's
failures are verdicts (an item it raises on) or a named error (a broken contract, a bad import)."""

from __future__ import annotations

import pytest

from mmvc.errors import StageError
from mmvc.repo import Repo
from tests.process_fixtures import STORY, build, png, use_tiny_models


class WordCount:
    name = "word_count"
    version = 1
    modalities = ("text",)
    outputs = {"word_count": "int64", "shouty": "bool"}

    def __init__(self, boom: str = "boom"):
        self.boom = boom  # from [process.stage.word_count]

    def __call__(self, batch):
        for t in batch["text"]:
            if self.boom in t:
                raise ValueError(f"cannot count {self.boom!r}")
        return {"word_count": [len(t.split()) for t in batch["text"]], "shouty": [t.isupper() for t in batch["text"]]}


class WordCountV2(WordCount):
    version = 2


class Vowels:
    name = "vowels"
    version = 1
    modalities = ("text",)
    outputs = {"vowel_share": "float64"}

    def __call__(self, batch):
        return {"vowel_share": [sum(c in "aeiou" for c in t) / max(len(t), 1) for t in batch["text"]]}


class Sharpness:
    """The docs' worked example: mean absolute Laplacian of the grey picture."""

    name = "sharpness"
    version = 1
    modalities = ("image",)
    inputs = ("pixels",)
    outputs = {"sharpness": "float64"}

    def __call__(self, batch):
        import numpy as np

        out = []
        for px in batch["pixels"]:
            g = px.astype(np.float64).mean(axis=2)
            lap = 4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]
            out.append(float(np.abs(lap).mean()))
        return {"sharpness": out}


class ShortOutput(WordCount):
    name = "short_output"

    def __call__(self, batch):
        return {"word_count": [1], "shouty": [False]}


class WrongType(WordCount):
    name = "wrong_type"

    def __call__(self, batch):
        return {"word_count": ["many"] * len(batch["text"]), "shouty": [False] * len(batch["text"])}


HERE = "tests.process.test_stages"
TEXTS = {
    "t/story.txt": STORY,
    "t/short.txt": "Databases index their rows.",
    "t/boom.txt": "This sentence says boom before the indexes are rebuilt tonight.",
}


def write_config(repo, text: str) -> None:
    with open(repo.layout.config, "a") as f:
        f.write("\n" + text + "\n")
    repo.__dict__.pop("config", None)


def set_stages(repo, stages: list) -> None:
    from mmvc.core.config import set_value

    set_value(repo, "process", "stages", stages)
    repo.__dict__.pop("config", None)


def staged_repo(root, tiny_models, files, stages: list, config: str = "") -> Repo:
    repo = Repo.init(str(root))
    use_tiny_models(repo, tiny_models)
    set_stages(repo, stages)
    write_config(repo, config)
    build(root, files)
    repo.add(["."], cwd=repo.root)
    return repo


def verdicts(repo) -> dict:
    from mmvc.ops.report import report

    return {r.path: r for r in report(repo, include_passed=True).rows}


def test_config_stage_column_gate_and_item_error(tmp_path, tiny_models):
    repo = staged_repo(tmp_path, tiny_models, TEXTS, [f"{HERE}:WordCount", f"{HERE}:Vowels"], """
[process.stage.word_count]
boom = "boom"

[process.gates.word_count]
reject_if = "word_count < 5"
""")
    res = repo.process()
    v = verdicts(repo)
    assert v["t/story.txt"].status == "passed"
    assert (v["t/short.txt"].status, v["t/short.txt"].stage, v["t/short.txt"].reason) == ("rejected", "word_count", "reject_if")
    assert v["t/short.txt"].detail == "word_count v1: word_count < 5 (word_count=4)"  # the stage version behind the verdict
    assert (v["t/boom.txt"].status, v["t/boom.txt"].reason) == ("rejected", "stage_error")  # a verdict, not a crash
    assert "cannot count 'boom'" in v["t/boom.txt"].detail
    assert res.user_stages["word_count"] == {"version": "1", "cached": 0, "computed": 3}
    assert res.user_stages["vowels"]["computed"] == 1  # only what word_count let through

    repo.commit("with stages")
    q = repo.query(where="word_count > 10")
    assert q.table.column("key").to_pylist() == ["t/story.txt"]
    assert "word_count" in q.columns and q.table.column("word_count").to_pylist() == [len(STORY.split())]
    assert q.table.column("shouty").to_pylist() == [False]
    assert repo.query(where="vowel_share > 0.2", columns="key,vowel_share").num_rows == 1
    assert repo.lineage("t/story.txt").process["stages"] == {"vowels": "1", "word_count": "1"}



def test_version_bump_recomputes_only_that_stage(tmp_path, tiny_models):
    files = {f"t/{i}.txt": f"Document number {i} talks about {'rivers lakes oceans'.split()[i % 3]} and mountains today." for i in range(4)}
    repo = staged_repo(tmp_path, tiny_models, files, [f"{HERE}:WordCount", f"{HERE}:Vowels"])
    first = repo.process()
    assert first.user_stages["word_count"]["computed"] == 4 and first.user_stages["vowels"]["computed"] == 4
    set_stages(repo, [f"{HERE}:WordCountV2", f"{HERE}:Vowels"])
    again = Repo(repo.root).process()
    assert again.decoded == 0
    assert again.user_stages["word_count"] == {"version": "2", "cached": 0, "computed": 4}
    assert again.user_stages["vowels"] == {"version": "1", "cached": 4, "computed": 0}
    assert again.config != first.config  # the verdicts depend on the stage's version


def test_entry_point_stage_from_an_installed_distribution(tmp_path, tiny_models, monkeypatch):
    site = tmp_path / "site"
    (site / "mmvc_sharp_test").mkdir(parents=True)
    (site / "mmvc_sharp_test" / "__init__.py").write_text(
        "from tests.process.test_stages import Sharpness as _S\n\nclass Sharpness(_S):\n    pass\n")
    info = site / "mmvc_sharp_test-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mmvc-sharp-test\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[mmvc.stages]\nsharpness = mmvc_sharp_test:Sharpness\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", f"{site}:{__import__('os').environ.get('PYTHONPATH', '')}")
    import numpy as np
    from PIL import Image
    import io

    flat = io.BytesIO()
    Image.fromarray(np.full((64, 96, 3), 120, dtype=np.uint8)).save(flat, "PNG")
    repo = staged_repo(tmp_path / "r", tiny_models, {"i/busy.png": png(1), "i/flat.png": flat.getvalue()},
                       ["sharpness"], '[process.gates.sharpness]\nreject_if = "sharpness < 0.5"\n')
    repo.process()
    v = verdicts(repo)
    assert v["i/busy.png"].status == "passed"
    assert (v["i/flat.png"].status, v["i/flat.png"].reason) == ("rejected", "reject_if")
    repo.commit("sharp")
    q = repo.query(columns="key,sharpness")
    assert q.table.column("key").to_pylist() == ["i/busy.png"] and q.table.column("sharpness").to_pylist()[0] > 0.5


@pytest.mark.parametrize("stage, message", [("ShortOutput", "output 'word_count' has 1 value"),
                                            ("WrongType", "output 'word_count' is not int64")])
def test_a_broken_contract_stops_the_run_naming_the_stage(tmp_path, tiny_models, stage, message):
    repo = staged_repo(tmp_path, tiny_models, {"t/a.txt": STORY, "t/b.txt": "Rivers and lakes and oceans too."},
                       [f"{HERE}:{stage}"])
    with pytest.raises(StageError, match=message) as e:
        repo.process()
    assert e.value.exit_code == 16 and "stage '" in str(e.value)
    from mmvc.errors import BadInputError

    with pytest.raises(BadInputError, match="nothing staged has been processed"):  # nothing was recorded
        verdicts(repo)


@pytest.mark.parametrize("ref, message", [("no_such_pkg.stages:Thing", r"stages entry 1 \('no_such_pkg.stages:Thing'\).*ModuleNotFoundError"),
                                          ("not_registered", "neither module:Class nor an installed mmvc.stages entry point"),
                                          (f"{HERE}:Missing", "AttributeError")])
def test_a_stage_that_cannot_be_loaded_is_one_line_naming_it(tmp_path, ref, message):
    repo = Repo.init(str(tmp_path))
    set_stages(repo, [ref])
    from mmvc.process.config import ProcessConfig

    with pytest.raises(StageError, match=message) as e:
        ProcessConfig.load(repo)
    assert "\n" not in str(e.value) and e.value.exit_code == 16


def test_reject_if_must_name_the_stage_outputs(tmp_path):
    from mmvc.errors import FormatError
    from mmvc.process.config import ProcessConfig

    repo = Repo.init(str(tmp_path))
    set_stages(repo, [f"{HERE}:WordCount"])
    write_config(repo, '[process.gates.word_count]\nreject_if = "words < 3"\n')
    with pytest.raises(FormatError, match="names words, not an output of stage 'word_count'"):
        ProcessConfig.load(repo)


def test_reject_if_semantics():
    from mmvc.process.stages import RejectIf

    r = RejectIf("g", "score < 4.5 AND NOT flag OR label = 'spam'")
    assert r.holds({"score": 3.0, "flag": False})
    assert not r.holds({"score": 3.0, "flag": True})
    assert r.holds({"score": 9.0, "label": "spam"})
    assert not r.holds({"score": None})  # a missing value compares false, as NULL does
    assert RejectIf("g", "score IS NULL").holds({})


def test_on_ray_the_same_verdicts_as_in_process(tmp_path, tiny_models, ray_local):
    from mmvc.core.config import set_value

    got = {}
    for engine, limit in (("in-process", 2000), ("ray", 0)):
        repo = staged_repo(tmp_path / engine, tiny_models, TEXTS, [f"{HERE}:WordCount"],
                           '[process.gates.word_count]\nreject_if = "word_count < 5"\n')
        set_value(repo, "process", "in_process_max", limit)
        repo.__dict__.pop("config", None)
        assert repo.process().engine == engine
        got[engine] = {k: (r.status, r.reason, r.detail) for k, r in verdicts(repo).items()}
    assert got["ray"] == got["in-process"]
    assert got["ray"]["t/boom.txt"][1] == "stage_error"
