"""Embedding through the real loading path: tiny seeded models are built into folders and
loaded with ``from_pretrained`` exactly as user models are; one test runs the bundled MiniLM."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from mmvc.process.embedders import ClipEmbedder, TextEmbedder, to_float32
from mmvc.process.models import BUNDLED_TEXT_ID
from mmvc.process.tiny_models import build_tiny_text_model
from mmvc.process.udfs import CLIP_DIM, TEXT_DIM
from tests.process_fixtures import SENTENCES, random_images, unit_rows

# -- text


def test_text_shapes_dtype_norm(text_embedder, text_model):
    v = text_embedder.embed(SENTENCES)
    assert v.shape == (len(SENTENCES), TEXT_DIM) and v.dtype == np.float32 and v.flags.c_contiguous
    assert unit_rows(v)
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
    assert v.dtype == np.float32 and unit_rows(v)
    assert (v * text_embedder.embed(SENTENCES[:3])).sum(axis=1).min() > 0.98


def test_bundled_minilm_ranks_paraphrases_above_unrelated():
    model = TextEmbedder(None, batch_size=8)
    assert model.model_id == BUNDLED_TEXT_ID and model.dim == TEXT_DIM
    v = model.embed(["A man is playing a guitar.", "Someone plays the guitar.",
                     "The stock market fell sharply today.", "A woman is slicing an onion."])
    sim = v @ v.T
    assert unit_rows(v)
    assert sim[0, 1] > 0.6
    assert sim[0, 1] > sim[0, 2] + 0.3 and sim[0, 1] > sim[0, 3] + 0.3


# -- clip


def test_clip_images_shapes_and_norm(clip_embedder):
    v = clip_embedder.embed_images(random_images())
    assert v.shape == (4, CLIP_DIM) and v.dtype == np.float32 and unit_rows(v)
    assert clip_embedder.embed_images([]).shape == (0, CLIP_DIM)


def test_clip_batch_size_invariance_and_determinism(clip_model, clip_embedder):
    images = random_images()
    np.testing.assert_allclose(ClipEmbedder(clip_model, batch_size=1).embed_images(images),
                               clip_embedder.embed_images(images), atol=1e-5)
    assert np.array_equal(clip_embedder.embed_images(images), clip_embedder.embed_images(images))


def test_clip_accepts_grey_and_rgba(clip_embedder):
    rgb = random_images(shapes=((64, 64),))[0]
    grey = rgb[:, :, 0]
    rgba = np.dstack([rgb, np.full((64, 64), 255, np.uint8)])
    v = clip_embedder.embed_images([rgb, grey, rgba])
    np.testing.assert_allclose(v[2], v[0], atol=1e-6)
    with pytest.raises(ValueError, match="uint8"):
        clip_embedder.embed_images([rgb.astype(np.float32)])


def test_clip_preprocessing_matches_the_checkpoints_processor(clip_model, clip_embedder):
    """Pixels are prepared in torch; they must match what transformers' own CLIP image
    processor makes from the same checkpoint, within resampling rounding."""
    from PIL import Image

    from mmvc.process.models import load_image_processor

    processor = load_image_processor(clip_model)
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


def test_clip_texts(clip_embedder):
    v = clip_embedder.embed_texts(["a photo of a cat", "a dog", "the cat"])
    assert v.shape == (3, CLIP_DIM) and unit_rows(v)


def test_clip_videos_are_mean_pooled_keyframes(clip_embedder):
    frames = random_images()
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
