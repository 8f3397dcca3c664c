"""The embedding-family registry: one description of each vector space, which the process
config, the feature cache, the catalog schema and search all follow."""

from __future__ import annotations

import pytest

from mmvc.core.families import BY_NAME, CLIP_FAMILY, FAMILIES, TEXT_FAMILY, family_of
from mmvc.core.modality import AUDIO, IMAGE, TEXT, UNKNOWN, VIDEO
from mmvc.errors import FormatError


def test_the_two_families_as_the_catalog_format_fixes_them():
    assert [(f.name, f.column, f.width, f.stage, f.model_column) for f in FAMILIES] == [
        ("text", "text_vector", 384, "embed_text", "text_model"),
        ("clip", "clip_vector", 512, "embed_clip", "clip_model"),
    ]
    assert TEXT_FAMILY.modality_names == ("text", "audio") and CLIP_FAMILY.modality_names == ("image", "video")
    assert BY_NAME == {"text": TEXT_FAMILY, "clip": CLIP_FAMILY}


def test_every_modality_belongs_to_at_most_one_family():
    assert [family_of(m) for m in (TEXT, AUDIO, IMAGE, VIDEO, UNKNOWN)] == [TEXT_FAMILY, TEXT_FAMILY, CLIP_FAMILY, CLIP_FAMILY, None]


def test_catalog_schema_has_one_vector_and_one_model_column_per_family():
    pa = pytest.importorskip("pyarrow")
    from mmvc.catalog.schema import arrow_schema

    schema = arrow_schema()
    for f in FAMILIES:
        assert schema.field(f.column).type == pa.list_(pa.float32(), f.width)
        assert schema.field(f.model_column).type == pa.string()


def test_process_config_switches_are_the_registry_names():
    from mmvc.process.config import ProcessConfig

    cfg = ProcessConfig.from_table({"families": {"clip": False}})
    assert cfg.families == {"text": True, "clip": False}
    assert set(cfg.describe()) >= {f.stage for f in FAMILIES}
    assert cfg.describe()["embed_clip"]["model"] is None and cfg.describe()["embed_text"]["model"] == TEXT_FAMILY.default_model
    assert ProcessConfig.from_table({}).image_model_id() == CLIP_FAMILY.default_model
    with pytest.raises(FormatError, match="unknown embedding family 'audio'") as e:
        ProcessConfig.from_table({"families": {"audio": True}})
    assert e.value.hint == "the families are text and clip"
