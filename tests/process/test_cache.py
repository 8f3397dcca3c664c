"""The feature cache's key: one formula, whether process computes it from its config or the
catalog from the config document a run recorded."""

from __future__ import annotations

import json

import numpy as np

from mmvc.process.cache import PREP, FeatureCache, stage_key


def test_stage_key_golden():
    assert stage_key("embed_text", {"v": 1, "on": True, "model": "m"}) == "d7e1a97c801c1486d53600c0719c5730"


def test_a_recorded_config_document_finds_what_process_cached(repo):
    from mmvc.core.families import TEXT_FAMILY
    from mmvc.process.config import ProcessConfig

    cfg = ProcessConfig.from_table({})
    doc = cfg.describe()
    written = FeatureCache(repo, TEXT_FAMILY.stage, doc)
    written.store([{"oid": "ab" * 32, "vector": np.ones(TEXT_FAMILY.width, np.float32)}], {"vector": TEXT_FAMILY.width})
    assert written.dir == repo.layout.feature_cache("embed_text", stage_key("embed_text", doc["embed_text"]))
    recorded = json.loads(json.dumps(doc))  # as a run object holds it
    got = FeatureCache(repo, TEXT_FAMILY.stage, recorded).load({"ab" * 32})
    assert got["ab" * 32]["vector"].shape == (TEXT_FAMILY.width,)
    # the prep cache is keyed by the gates stage
    assert FeatureCache(repo, PREP, doc).dir == repo.layout.feature_cache("prep", stage_key("gates", doc["gates"]))
    other = ProcessConfig.from_table({"models": {"text": "another"}}).describe()
    assert FeatureCache(repo, TEXT_FAMILY.stage, other).load({"ab" * 32}) == {}
