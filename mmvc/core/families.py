"""Embedding families: the vector spaces mmvc keeps, each described once.

A family is one embedding space. Its name is the ``[process.families]`` switch and names its
pipeline stage (``embed_<name>``); its vectors fill one catalog column of a fixed width; the
items embedded into it are of given modalities; one kind of model makes them. Two families are
never mixed (their spaces are incompatible), so process, the catalog schema and search all
iterate this registry rather than spelling a family out. Columns and widths are part of the
catalog format (docs/format.md, "Catalog"): families are only ever added.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmvc.core.modality import AUDIO, IMAGE, TEXT, VIDEO, modality_name


@dataclass(frozen=True)
class Family:
    name: str
    column: str  # the catalog's vector column
    width: int  # float32 values per vector
    modalities: tuple[int, ...]  # item modalities whose vectors live here
    model_kind: str  # "sentence" (a mean-pooled text encoder) or "clip" (image tower; text tower for queries)
    default_model: str  # used when [process.models] names none

    @property
    def stage(self) -> str:
        """The pipeline stage (and feature-cache folder) that computes this family's vectors."""
        return f"embed_{self.name}"

    @property
    def model_column(self) -> str:
        """The catalog column naming the model behind a row's vector (null when it has none)."""
        return f"{self.name}_model"

    @property
    def modality_names(self) -> tuple[str, ...]:
        return tuple(modality_name(m) for m in self.modalities)


TEXT_FAMILY = Family("text", "text_vector", 384, (TEXT, AUDIO), "sentence", "bundled:all-MiniLM-L6-v2")
CLIP_FAMILY = Family("clip", "clip_vector", 512, (IMAGE, VIDEO), "clip", "openai/clip-vit-base-patch32")
FAMILIES = (TEXT_FAMILY, CLIP_FAMILY)
BY_NAME = {f.name: f for f in FAMILIES}


def family_of(modality: int) -> Family | None:
    """The family an item of ``modality`` is embedded into (None: none is)."""
    return next((f for f in FAMILIES if modality in f.modalities), None)
