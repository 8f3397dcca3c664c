"""The tiny seeded models (``tiny_models``, built once a session through the real loading code)
and embedders over them, shared by the embedder and UDF tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def text_model(tiny_models):
    return tiny_models[0]


@pytest.fixture(scope="session")
def clip_model(tiny_models):
    return tiny_models[1]


@pytest.fixture(scope="session")
def text_embedder(text_model):
    from mmvc.process.embedders import TextEmbedder

    return TextEmbedder(text_model, batch_size=4)


@pytest.fixture(scope="session")
def clip_embedder(clip_model):
    from mmvc.process.embedders import ClipEmbedder

    return ClipEmbedder(clip_model, batch_size=3)
