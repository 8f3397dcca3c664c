"""`mmvc eval` through the command line: files and standard input, one-line errors with a hint
and exit code 4 for malformed metrics, JSON and Markdown output of compare."""

from __future__ import annotations

import json

import pytest

from mmvc.errors import ExitCode


@pytest.fixture
def versions(run, tmp_path):
    run("init", "--ungated")
    for name in ("a", "b"):
        (tmp_path / f"{name}.txt").write_text(name)
        run("add", f"{name}.txt")
        run("commit", "-m", name)
    return tmp_path


def test_add_from_a_file_and_from_standard_input_then_list_and_show(run, versions, monkeypatch):
    (versions / "m.csv").write_text("metric,value\nacc,0.61\nloss,1.9,lower\n")
    out = run("eval", "add", "HEAD~1", "--name", "mmlu", "--metrics", "m.csv", "--model", "llama", "--higher-is-better", "acc").output
    assert out.startswith("eval ") and "mmlu" in out and "2 metric(s)" in out

    res = run("eval", "add", "HEAD", "--name", "mmlu", "--metrics", "-", "--json", input='{"acc": 0.66, "loss": 1.7}')
    doc = json.loads(res.stdout)
    assert doc["metrics"] == {"acc": 0.66, "loss": 1.7} and doc["created"] is True

    listed = json.loads(run("eval", "list", "--json").stdout)
    older = json.loads(run("eval", "list", "HEAD~1", "--json").stdout)
    assert len(older) == 1 and sorted(e["id"] for e in listed) == sorted([older[0]["id"], doc["id"]])
    text = run("eval", "list", "HEAD").stdout
    assert doc["id"][:12] in text and "acc=0.66" in text

    shown = run("eval", "show", doc["id"][:10]).stdout
    assert f"eval {doc['id']}" in shown and "acc" in shown and "0.66" in shown
    assert json.loads(run("eval", "show", doc["id"], "--json").stdout) == doc
    assert run("cat-object", "-t", doc["id"]).stdout.strip() == "eval"
    body = json.loads(run("cat-object", "-p", doc["id"]).stdout)  # the body behind the header
    assert body["metrics"] == {"acc": 0.66, "loss": 1.7} and body["commit"] == doc["commit"] and "type" not in body


@pytest.mark.parametrize("content,message", [
    ('{"acc": "high"}', "metric 'acc' is not a number"),
    ('{"acc": NaN}', "holds NaN"),
    ('{"acc": 1, "acc": 2}', "key 'acc' appears twice"),
    ("acc = 0.7", "is not valid JSON"),
])
def test_malformed_metrics_exit_4_with_one_line_and_a_hint(run, versions, content, message):
    (versions / "bad.json").write_text(content)
    res = run("eval", "add", "HEAD", "--name", "mmlu", "--metrics", "bad.json", expect=ExitCode.BAD_INPUT)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and message in lines[0] and lines[1].startswith("hint: ")
    assert res.stdout == ""
    assert json.loads(run("eval", "list", "--json").stdout) == []


def test_unknown_revision_is_refused(run, versions):
    res = run("eval", "add", "ee" * 32, "--name", "mmlu", "--metrics", "-", input='{"acc": 1}', expect=ExitCode.BAD_INPUT)
    assert "unknown revision" in res.stderr


def test_compare_text_json_and_markdown(run, versions, monkeypatch):
    monkeypatch.setenv("MMVC_AUTHOR_DATE", "1700000001")
    run("eval", "add", "HEAD~1", "--name", "mmlu", "--metrics", "-", "--higher-is-better", "acc", input='{"acc": 0.6}')
    for t, acc in (("1700000002", 0.64), ("1700000003", 0.68)):
        monkeypatch.setenv("MMVC_AUTHOR_DATE", t)
        run("eval", "add", "HEAD", "--name", "mmlu", "--metrics", "-", input=json.dumps({"acc": acc}))
    text = run("eval", "compare", "HEAD~1", "HEAD").stdout.splitlines()
    assert text[0].split()[:2] == ["eval", "metric"]
    assert text[1].split()[:3] == ["mmlu", "acc", "0.6"] and "0.66 ± 0.0283 (2 runs)" in text[1] and "+0.06" in text[1]
    assert text[1].endswith("↑ better")
    doc = json.loads(run("eval", "compare", "HEAD~1", "HEAD", "--json").stdout)
    assert doc["rows"][0]["b"]["runs"] == 2 and doc["rows"][0]["verdict"] == "improved"
    md = run("eval", "compare", "HEAD~1", "HEAD", "--md").stdout.splitlines()
    assert md[0].startswith("### mmvc eval compare: HEAD~1 (")
    assert md[2].startswith("| eval | metric | HEAD~1 (") and md[3] == "| --- | --- | ---: | ---: | ---: | --- |"
    assert md[4] == "| mmlu | acc | 0.6 | 0.66 ± 0.0283 (2 runs) | +0.06 | ↑ better |"
    run("eval", "compare", "HEAD~1", "HEAD", "--json", "--md", expect=ExitCode.USAGE)


def test_log_evals_shows_a_metrics_column_per_version(run, versions, monkeypatch):
    run("eval", "add", "HEAD~1", "--name", "mmlu", "--metrics", "-", input='{"acc": 0.6, "f1": 0.5}')
    for t, acc in (("1700000002", 0.64), ("1700000003", 0.68)):
        monkeypatch.setenv("MMVC_AUTHOR_DATE", t)
        run("eval", "add", "HEAD", "--name", "mmlu", "--metrics", "-", input=json.dumps({"acc": acc}))
    lines = run("log", "--oneline", "--evals").stdout.splitlines()
    assert lines[0].endswith("b  [mmlu (2 runs): acc=0.66]")
    assert lines[1].endswith("a  [mmlu: acc=0.6 f1=0.5]")
    assert "Evals:  mmlu (2 runs): acc=0.66" in run("log", "--evals", "-n", "1").stdout
    assert "Evals:" not in run("log").stdout and "[" not in run("log", "--oneline").stdout
    doc = json.loads(run("log", "--evals", "--json").stdout)
    top = doc[0]["evals"]["mmlu"]
    assert top["runs"] == 2 and top["metrics"]["acc"]["values"] == [0.64, 0.68]
    assert doc[1]["evals"]["mmlu"]["metrics"]["f1"]["mean"] == 0.5
