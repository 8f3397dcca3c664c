"""The process configuration (``[process]`` in ``.mmvc/config.toml``) and the hashes that tie
results to it. A result is reused only under the same stage hash, and a commit admits items
only when they were processed under the repository's current config hash."""

from __future__ import annotations

from dataclasses import dataclass, field

from mmvc.core.objects import canonical_json
from mmvc.errors import FormatError

PIPELINE_VERSION = 1  # bump when a stage's code changes what it computes
DEFAULT_CLIP = "openai/clip-vit-base-patch32"
KEEP_POLICIES = ("first", "largest", "quality")
_DTYPES = {"auto", "fp32", "float32", "bf16", "bfloat16", "fp16", "float16", "half"}
_KNOWN = {"gated", "gates", "neardup", "semantic", "models", "families", "batch_size", "num_gpus", "ray_address", "num_cpus", "license", "dtype"}


@dataclass
class ProcessConfig:
    gates: object
    neardup: object
    semantic_eps: float = 0.01
    keep: str = "first"
    text_model: str | None = None
    image_model: str | None = None
    families: dict = field(default_factory=lambda: {"text": True, "clip": True})
    batch_size: int = 64
    num_gpus: float = 0.0
    num_cpus: int | None = None
    ray_address: str | None = None
    dtype: str = "auto"  # embedding precision: auto = bf16 on a GPU, fp32 on CPUs
    license_allow: list = field(default_factory=list)
    license_deny: list = field(default_factory=list)

    @classmethod
    def from_table(cls, table: dict) -> "ProcessConfig":
        from mmvc.process.gates import GateConfig
        from mmvc.process.neardup import NearDupConfig

        unknown = set(table) - _KNOWN
        if unknown:
            raise FormatError(f"unknown setting(s) under [process]: {', '.join(sorted(unknown))}",
                              f"valid ones: {', '.join(sorted(_KNOWN))} (docs/process.md)")
        sem = table.get("semantic", {})
        models = table.get("models", {})
        fams = {"text": True, "clip": True, **table.get("families", {})}
        for k in fams:
            if k not in ("text", "clip"):
                raise FormatError(f"unknown embedding family {k!r} under [process.families]", "the families are text and clip")
        keep = sem.get("keep", "first")
        if keep not in KEEP_POLICIES:
            raise FormatError(f"unknown keep policy {keep!r} under [process.semantic]", f"use one of {', '.join(KEEP_POLICIES)}")
        nd = dict(table.get("neardup", {}))
        try:
            neardup = NearDupConfig(**nd)
        except TypeError as e:
            raise FormatError(f"bad [process.neardup] setting: {e}", "see docs/process.md") from None
        lic = table.get("license", {})
        if str(table.get("dtype", "auto")).lower() not in _DTYPES:
            raise FormatError(f"unknown [process] dtype {table.get('dtype')!r}", f"use one of {', '.join(sorted(_DTYPES))}")
        return cls(
            gates=GateConfig.from_toml(table.get("gates", {})),
            neardup=neardup,
            semantic_eps=float(sem.get("eps", 0.01)),
            keep=keep,
            text_model=models.get("text") or None,
            image_model=models.get("image") or None,
            families={k: bool(v) for k, v in fams.items()},
            batch_size=int(table.get("batch_size", 64)),
            num_gpus=float(table.get("num_gpus", 0)),
            num_cpus=table.get("num_cpus"),
            ray_address=table.get("ray_address"),
            dtype=str(table.get("dtype", "auto")),
            license_allow=list(lic.get("allow", [])),
            license_deny=list(lic.get("deny", [])),
        )

    @classmethod
    def load(cls, repo) -> "ProcessConfig":
        try:
            return cls.from_table(repo.config.raw.get("process", {}))
        except (TypeError, ValueError, AttributeError) as e:  # a value of the wrong type somewhere under [process]
            raise FormatError(f".mmvc/config.toml: a [process] setting has the wrong type ({e})",
                              "fix it by hand; docs/process.md lists the settings and their types") from None

    def embed_dtype(self) -> str | None:
        """Precision of the embedding models. Not part of any hash: like the batch size, it moves
        vectors by rounding error, not by meaning."""
        if self.dtype in ("auto", ""):
            return "bf16" if self.num_gpus else None
        return self.dtype

    def image_model_id(self) -> str:
        return self.image_model or DEFAULT_CLIP

    # -- hashes

    def _stage_doc(self, stage: str) -> dict:
        from mmvc.process.decode import DECODE_VERSION
        from mmvc.process.neardup import ALGORITHM

        if stage == "decode":
            return {"v": PIPELINE_VERSION, "decode": DECODE_VERSION}
        if stage == "gates":
            # the prep cache also holds the fingerprints the near-dup tiers compare
            return {"v": PIPELINE_VERSION, "decode": DECODE_VERSION, "fingerprints": ALGORITHM, "gates": self.gates.config_dict(),
                    "license": {"allow": sorted(self.license_allow), "deny": sorted(self.license_deny)}}
        if stage == "neardup":
            return {"v": PIPELINE_VERSION, "neardup": self.neardup.config_dict()}
        if stage == "embed_text":
            return {"v": PIPELINE_VERSION, "on": self.families.get("text", True), "model": self.text_model or "bundled:all-MiniLM-L6-v2"}
        if stage == "embed_clip":
            return {"v": PIPELINE_VERSION, "on": self.families.get("clip", True), "model": self.image_model_id() if self.families.get("clip", True) else None}
        if stage == "semantic":
            return {"v": PIPELINE_VERSION, "eps": self.semantic_eps, "keep": self.keep}
        raise KeyError(stage)

    def stage_hash(self, stage: str) -> str:
        from mmvc.core.hashing import hash_bytes

        return hash_bytes(canonical_json({"stage": stage, **self._stage_doc(stage)}))[:32]

    STAGES = ("decode", "gates", "neardup", "embed_text", "embed_clip", "semantic")

    def config_hash(self) -> str:
        """What an item's verdict depends on; batch size, GPUs and the Ray address do not."""
        from mmvc.core.hashing import hash_bytes

        return hash_bytes(canonical_json({s: self._stage_doc(s) for s in self.STAGES}))

    def describe(self) -> dict:
        return {s: self._stage_doc(s) for s in self.STAGES}
