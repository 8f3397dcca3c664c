"""Eval and training-run objects pinned byte for byte, and metrics files in every shape people
have them, including the malformed ones (each a one-line BadInputError naming the entry)."""

from __future__ import annotations

import json

import pytest
from blake3 import blake3

from mmvc.core.evals import Eval, parse_eval_ref
from mmvc.core.layout import eval_ref
from mmvc.core.metrics import MAX_METRICS_BYTES, from_mapping, parse_metrics, read_metrics_file
from mmvc.core.objects import EVAL as EVAL_KIND
from mmvc.core.objects import TRAINING_RUN, Signature, declared_kind, kind_of
from mmvc.core.training_runs import TrainingRun
from mmvc.errors import BadInputError, CorruptError, ExitCode, NewerFormatError

WHO = Signature("Zoë Author", "zoe@example.com", 1700000000, 60)
EVAL = Eval(commit="ab" * 32, name="mmlu", metrics={"acc": 0.652, "mmlu.stem.acc": 0.5}, author=WHO, better={"acc": "higher"},
            model="llama-3-8b", run="run-7", recipe="cd" * 32, notes="5-shot")
EVAL_BYTES = b"mmvc eval 2\n" + (
    '{"author":{"email":"zoe@example.com","name":"Zoë Author","time":1700000000,"tz":60},"better":{"acc":"higher"},'
    '"commit":"' + "ab" * 32 + '","export":null,"metrics":{"acc":0.652,"mmlu.stem.acc":0.5},'
    '"model":"llama-3-8b","name":"mmlu","notes":"5-shot","recipe":"' + "cd" * 32 + '","run":"run-7","run_record":null}'
).encode("utf-8")
EVAL_ID = "51b1ab37fb89e346ea6f8e41b33185aca223813eddb73bbdc533b841cfcaade4"

RUN = TrainingRun(name="r1", commit="ab" * 32, author=WHO, setup={"seed": 7, "world_size": 2}, recipe="cd" * 32,
                  checkpoint={"step": 100, "state": {"consumed": 64, "epoch": 0}}, previous="ef" * 32)
RUN_BYTES = b"mmvc training-run 2\n" + (
    '{"author":{"email":"zoe@example.com","name":"Zoë Author","time":1700000000,"tz":60},'
    '"checkpoint":{"state":{"consumed":64,"epoch":0},"step":100},"commit":"' + "ab" * 32 + '","export":null,'
    '"name":"r1","previous":"' + "ef" * 32 + '","recipe":"' + "cd" * 32 + '","setup":{"seed":7,"world_size":2}}'
).encode("utf-8")
RUN_ID = "45236a0abd8f63c2cdd5426255a060932ab9f9bad8f820493cdc6da6b2d9ec92"


def test_eval_golden_bytes_and_round_trip():
    assert EVAL.encode() == EVAL_BYTES
    assert blake3(EVAL_BYTES).hexdigest() == EVAL_ID == EVAL.oid
    back = Eval.decode(EVAL_BYTES, EVAL_ID)
    assert back == EVAL and back.encode() == EVAL_BYTES
    assert declared_kind(EVAL_BYTES) == "eval" and kind_of(EVAL_BYTES, (EVAL_KIND,)) == "eval"
    assert EVAL.ref == f"refs/evals/{'ab' * 32}/{EVAL_ID}" == eval_ref("ab" * 32, EVAL_ID)
    assert parse_eval_ref(EVAL.ref) == ("ab" * 32, EVAL_ID)
    assert parse_eval_ref("refs/evals/nope/x") is None and parse_eval_ref("refs/heads/main") is None


def test_training_run_golden_bytes_and_round_trip():
    assert RUN.encode() == RUN_BYTES
    assert blake3(RUN_BYTES).hexdigest() == RUN_ID
    assert TrainingRun.decode(RUN_BYTES) == RUN
    assert declared_kind(RUN_BYTES) == "training-run" and kind_of(RUN_BYTES, (TRAINING_RUN,)) == "training-run"
    assert RUN.linked() == ["ef" * 32, "cd" * 32]


def test_a_state_naming_a_commit_type_is_still_a_training_run():
    r = TrainingRun("r", "ab" * 32, WHO, {}, checkpoint={"state": {"type": "commit"}})
    assert declared_kind(r.encode()) == "training-run"


def test_newer_and_malformed_evals_are_refused():
    header, body = EVAL_BYTES.split(b"\n", 1)
    doc = json.loads(body)
    with pytest.raises(NewerFormatError):
        Eval.decode(b"mmvc eval 3\n" + body, "x")
    for bad in ({**doc, "metrics": {"acc": "high"}}, {**doc, "better": {"acc": "up"}}, {k: v for k, v in doc.items() if k != "commit"},
                {**doc, "metrics": {"acc": float("nan")}}):
        with pytest.raises(CorruptError, match="not a valid eval"):
            Eval.decode(header + b"\n" + json.dumps(bad).encode(), "x")
    for other in (body, RUN_BYTES, b"mmvc commit 2\n" + body):  # no header, or another kind's: not an eval
        with pytest.raises(CorruptError, match="is not a eval"):
            Eval.decode(other, "x")
    kept = Eval.decode(header + b"\n" + json.dumps({**doc, "aa_new": 1}).encode(), "x")
    assert kept.extra == {"aa_new": 1}


# -- metrics files


def _file(tmp_path, name, text):
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(p)


def test_flat_and_nested_json_flatten_with_dots(tmp_path):
    m = read_metrics_file(_file(tmp_path, "m.json", '{"acc": 0.7, "mmlu": {"stem": {"acc": 0.5}, "n": 3}}'))
    assert m.values == {"acc": 0.7, "mmlu.stem.acc": 0.5, "mmlu.n": 3.0} and m.shape == "json"


def test_mmvc_shape_carries_directions():
    m = parse_metrics(b'{"metrics": {"loss": 1.5, "acc": 0.5}, "better": {"loss": "lower", "acc": true}}')
    assert m.values == {"loss": 1.5, "acc": 0.5} and m.better == {"loss": "lower", "acc": "higher"} and m.shape == "mmvc"


LM_EVAL = {
    "results": {
        "mmlu": {"alias": "mmlu", "acc,none": 0.652, "acc_stderr,none": 0.0038},
        "gsm8k": {"alias": "gsm8k", "exact_match,strict-match": 0.41, "exact_match,flexible-extract": 0.45,
                  "exact_match_stderr,strict-match": "N/A"},
        "wikitext": {"word_perplexity,none": 9.5},
    },
    "higher_is_better": {"mmlu": {"acc": True}, "gsm8k": {"exact_match": True}, "wikitext": {"word_perplexity": False}},
    "versions": {"mmlu": 1},
    "n-shot": {"mmlu": 5},
    "config": {"model": "hf"},
}


def test_lm_eval_harness_results(tmp_path):
    m = read_metrics_file(_file(tmp_path, "results_2024.json", json.dumps(LM_EVAL)))
    assert m.shape == "lm-eval"
    assert m.values == {"mmlu.acc": 0.652, "mmlu.acc_stderr": 0.0038, "gsm8k.exact_match/strict-match": 0.41,
                        "gsm8k.exact_match/flexible-extract": 0.45, "wikitext.word_perplexity": 9.5}
    assert m.better == {"mmlu.acc": "higher", "gsm8k.exact_match/strict-match": "higher",
                        "gsm8k.exact_match/flexible-extract": "higher", "wikitext.word_perplexity": "lower"}


def test_csv_with_and_without_header(tmp_path):
    m = read_metrics_file(_file(tmp_path, "m.csv", "metric,value\nacc,0.7\nloss,1.25,lower\n\n"))
    assert m.values == {"acc": 0.7, "loss": 1.25} and m.better == {"loss": "lower"} and m.shape == "csv"
    assert read_metrics_file(_file(tmp_path, "n.csv", "acc,0.7\n")).values == {"acc": 0.7}
    assert parse_metrics(b"acc,1\n", "stdin", "csv").values == {"acc": 1.0}


@pytest.mark.parametrize("name,text,message", [
    ("nonnum.json", '{"acc": "high"}', r"metric 'acc' is not a number \('high'\)"),
    ("bool.json", '{"acc": true}', r"metric 'acc' is not a number"),
    ("list.json", '{"acc": [0.1, 0.2]}', r"metric 'acc' is not a number \(a list\)"),
    ("nan.json", '{"acc": NaN}', r"holds NaN, which is not a number"),
    ("inf.json", '{"a": {"b": -Infinity}}', r"holds -Infinity"),
    ("dup.json", '{"acc": 0.1, "acc": 0.2}', r"key 'acc' appears twice"),
    ("dup-flat.json", '{"a.b": 1, "a": {"b": 2}}', r"metric 'a.b' appears twice"),
    ("notjson.json", "acc: 0.7\n", r"is not valid JSON"),
    ("array.json", "[1, 2]", r"is not a JSON object of metrics"),
    ("empty.json", "{}", r"holds no metrics"),
    ("latin1.json", b'{"acc\xe9": 1}', r"is not UTF-8 text"),
    ("nonnum.csv", "acc,0.7\nloss,high\n", r"line 2: metric 'loss' is not a number"),
    ("nan.csv", "acc,nan\n", r"line 1: metric 'acc' is 'nan' \(not a finite number\)"),
    ("dup.csv", "acc,0.7\nacc,0.8\n", r"metric 'acc' appears twice"),
    ("cols.csv", "acc,0.7,higher,extra\n", r"line 1: 4 columns"),
    ("dir.csv", "acc,0.7,upwards\n", r"direction 'upwards'"),
])
def test_malformed_metrics_files_are_one_line_errors(tmp_path, name, text, message):
    with pytest.raises(BadInputError, match=message) as ei:
        read_metrics_file(_file(tmp_path, name, text))
    err = ei.value
    assert err.exit_code == ExitCode.BAD_INPUT and err.hint and "\n" not in err.message
    assert name in err.message


def test_a_50_mb_metrics_file_is_refused_before_it_is_read(tmp_path):
    p = tmp_path / "big.json"
    with open(p, "wb") as f:
        f.truncate(50 << 20)
    with pytest.raises(BadInputError, match=r"is 52,428,800 bytes, more than the 8 MiB") as ei:
        read_metrics_file(str(p))
    assert "results_" in ei.value.hint
    with pytest.raises(BadInputError, match="more than"):
        parse_metrics(b" " * (MAX_METRICS_BYTES + 1))


def test_missing_file_and_mappings(tmp_path):
    with pytest.raises(BadInputError, match="does not exist"):
        read_metrics_file(str(tmp_path / "nope.json"))
    assert from_mapping({"a": 1, "b": {"c": 2.5}}, {"a": "lower"}).values == {"a": 1.0, "b.c": 2.5}
    with pytest.raises(BadInputError, match="is 1e999|not a finite"):
        from_mapping({"a": float("inf")})
