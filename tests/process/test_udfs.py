"""The Ray class UDFs on numpy batches, as Ray Data hands them over."""

from __future__ import annotations

import os

import numpy as np
import pytest

from mmvc.errors import BadInputError
from mmvc.process.udfs import CLIP_DIM, TEXT_DIM, ClipEmbedUDF, ClipPixelsUDF, TextEmbedUDF, TextTokenizeUDF
from tests.process_fixtures import SENTENCES, random_images

def _read_only(array):
    array.flags.writeable = False
    return array


def test_text_udf(text_model, text_embedder):
    udf = TextEmbedUDF(text_model, batch_size=2)
    texts = _read_only(np.array(["a photo of a cat", None, "", "   ", b"red car", "the dog"], dtype=object))
    ids = _read_only(np.arange(6))
    out = udf({"text": texts, "id": ids})
    assert out["text"] is texts and out["id"] is ids
    assert out["text_vector"].shape == (6, TEXT_DIM) and out["text_vector"].dtype == np.float32
    assert out["text_vector_ok"].tolist() == [True, False, False, False, True, True]
    assert np.isnan(out["text_vector"][1:4]).all()
    np.testing.assert_allclose(out["text_vector"][[0, 4, 5]],
                               text_embedder.embed(["a photo of a cat", "red car", "the dog"]), atol=1e-5)
    assert udf.model_id == os.path.abspath(text_model)


def test_tokenize_udf_then_embed_udf(text_model):
    """The GPU layout: CPU workers tokenise, the embedding actor only runs the model."""
    batch = {"text": _read_only(np.array(["a photo of a cat", None, "  ", "the dog", "x " * 3000], dtype=object))}
    tokenised = TextTokenizeUDF(text_model)(batch)
    assert tokenised["text_tokens"].shape == (5, 256) and tokenised["text_tokens"].dtype == np.int32
    lengths = tokenised["text_token_count"].tolist()
    assert lengths[1] == lengths[2] == 0 and lengths[0] > 0 and lengths[4] == 256
    assert (tokenised["text_tokens"][0, lengths[0]:] == 0).all()
    for array in tokenised.values():
        array.flags.writeable = False
    udf = TextEmbedUDF(text_model, batch_size=2)
    via_tokens, direct = udf(tokenised), udf(batch)
    assert via_tokens["text_vector_ok"].tolist() == direct["text_vector_ok"].tolist() == [True, False, False, True, True]
    np.testing.assert_allclose(via_tokens["text_vector"], direct["text_vector"], atol=1e-5)
    assert np.isnan(via_tokens["text_vector"][1:3]).all()


def test_udfs_are_thread_safe(text_model, clip_model):
    """Ray may run two calls at once on one actor (max_concurrent_calls_per_actor)."""
    from concurrent.futures import ThreadPoolExecutor

    text_udf, clip_udf = TextEmbedUDF(text_model, batch_size=2), ClipEmbedUDF(clip_model, batch_size=2)
    text_batches = [{"text": np.array(SENTENCES[i:] + SENTENCES[:i], dtype=object)} for i in range(6)]
    images = random_images()
    clip_batches = [{"thumb": np.array(images[i:] + images[:i] + [None], dtype=object)} for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        text_out = list(pool.map(text_udf, text_batches * 2))
        clip_out = list(pool.map(clip_udf, clip_batches * 2))
    for batch, out in zip(text_batches * 2, text_out):
        np.testing.assert_allclose(out["text_vector"], text_udf(batch)["text_vector"], atol=1e-5)
    for batch, out in zip(clip_batches * 2, clip_out):
        np.testing.assert_allclose(out["clip_vector"], clip_udf(batch)["clip_vector"], atol=1e-5)


def test_text_udf_unicode_array_and_empty_batch(text_model):
    udf = TextEmbedUDF(text_model)
    out = udf({"text": np.array(["one", "two"])})
    assert out["text_vector_ok"].all()
    empty = udf({"text": np.array([], dtype=object)})
    assert empty["text_vector"].shape == (0, TEXT_DIM) and empty["text_vector_ok"].shape == (0,)


def test_clip_udf(clip_model, clip_embedder):
    udf = ClipEmbedUDF(clip_model, batch_size=2)
    images = random_images()
    thumbs = np.empty(5, dtype=object)
    thumbs[:] = [images[0], None, images[1], None, images[2]]
    keyframes = np.empty(5, dtype=object)
    keyframes[:] = [None, [images[1], images[3]], None, None, np.stack([images[1], images[1]])]
    out = udf({"thumb": _read_only(thumbs), "keyframes": _read_only(keyframes)})
    v = out["clip_vector"]
    assert v.shape == (5, CLIP_DIM) and v.dtype == np.float32
    assert out["clip_vector_ok"].tolist() == [True, True, True, False, True]
    assert np.isnan(v[3]).all()
    single = clip_embedder.embed_images([images[0], images[1]])
    np.testing.assert_allclose(v[[0, 2]], single, atol=1e-5)
    np.testing.assert_allclose(v[1], clip_embedder.embed_videos([[images[1], images[3]]])[0], atol=1e-5)
    # Keyframes win over the thumbnail; a stack of one frame twice pools to that frame.
    np.testing.assert_allclose(v[4], single[1], atol=1e-5)


def test_clip_udf_stacked_thumbs_and_missing_columns(clip_model):
    udf = ClipEmbedUDF(clip_model)
    stacked = _read_only(np.stack(random_images(shapes=((64, 80),) * 3)))
    out = udf({"thumb": stacked, "id": np.arange(3)})
    assert out["clip_vector_ok"].all()
    np.testing.assert_allclose(out["clip_vector"], udf.embedder.embed_images(list(stacked)), atol=1e-6)
    none = udf({"id": np.arange(2)})
    assert not none["clip_vector_ok"].any() and np.isnan(none["clip_vector"]).all()


def test_clip_pixels_stage_then_embed_matches_embedding_directly(clip_model, clip_embedder):
    """The CPU stage that a GPU run puts ahead of the model (PNG decode, resize, centre crop)
    hands over one fixed-shape array and gives the vectors the model gives the pictures."""
    import io

    from PIL import Image

    def png(a):
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, "PNG")
        return buf.getvalue()

    images = random_images()
    pixels = ClipPixelsUDF(clip_model)
    thumbs = np.empty(len(images), dtype=object)
    for i, a in enumerate(images):
        thumbs[i] = png(a)
    keyframes = np.empty(len(images), dtype=object)
    out = pixels({"oid": np.array([str(i) for i in range(len(images))]), "thumb": thumbs, "keyframes": keyframes})
    size = clip_embedder.model.config.vision_config.image_size
    assert out["thumb"].shape == (len(images), size, size, 3) and out["thumb"].dtype == np.uint8
    v = ClipEmbedUDF(clip_model)(out)["clip_vector"]
    np.testing.assert_allclose(v, clip_embedder.embed_images(images), atol=2e-2)
    assert (np.sum(v * clip_embedder.embed_images(images), axis=1) > 0.999).all()

    # a video row: its keyframes stay a list per row, the thumbnail column an object column
    keyframes[1] = [png(images[1]), png(images[3])]
    mixed = pixels({"oid": np.array(["a", "b", "c", "d"]), "thumb": thumbs, "keyframes": keyframes})
    assert mixed["thumb"].dtype == object and len(mixed["keyframes"][1]) == 2
    mv = ClipEmbedUDF(clip_model)(mixed)["clip_vector"]
    assert float(np.dot(mv[1], clip_embedder.embed_videos([[images[1], images[3]]])[0])) > 0.999


def test_udf_rejects_a_model_of_the_wrong_width(text_model, tmp_path):
    from transformers import AutoTokenizer, BertConfig, BertModel

    narrow = tmp_path / "narrow"
    BertModel(BertConfig(vocab_size=200, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32)).save_pretrained(narrow)
    AutoTokenizer.from_pretrained(text_model).save_pretrained(narrow)
    with pytest.raises(BadInputError, match="32-d"):
        TextEmbedUDF(str(narrow))
