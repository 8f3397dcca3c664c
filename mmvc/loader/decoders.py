"""Ready-made decoders for ``MMVCDataset(decoders=…)``: modality name → fn(bytes, meta).

The default is no decoder (bytes). Any callable with that signature can take a decoder's place.
"""

from __future__ import annotations


def text_utf8(data: bytes, meta: dict) -> str:
    return data.decode("utf-8")


def image_pil(data: bytes, meta: dict):
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def audio_soundfile(data: bytes, meta: dict):
    """(samples as float32 numpy array, sample rate)."""
    import io

    import soundfile

    samples, rate = soundfile.read(io.BytesIO(data), dtype="float32")
    return samples, rate


def standard_decoders() -> dict:
    from mmvc.core.extras import require

    require("loader", "PIL", "soundfile", what="mmvc.loader.standard_decoders")
    return {"text": text_utf8, "image": image_pil, "audio": audio_soundfile}
