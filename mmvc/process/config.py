"""The process configuration (``[process]`` in ``.mmvc/config.toml``) and the hashes that tie
results to it. A result is reused only under the same stage hash, and a commit admits items
only when they were processed under the repository's current config hash."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mmvc.core.families import BY_NAME as FAMILY_BY_NAME, CLIP_FAMILY, TEXT_FAMILY
from mmvc.core.objects import canonical_json
from mmvc.errors import FormatError

if TYPE_CHECKING:
    from mmvc.process.gates import GateConfig
    from mmvc.process.neardup import NearDupConfig

PIPELINE_VERSION = 1  # bump when a stage's code changes what it computes
_DTYPES = {"auto", "fp32", "float32", "bf16", "bfloat16", "fp16", "float16", "half"}
_KNOWN = {"gated", "gates", "neardup", "semantic", "dedup", "models", "families", "batch_size", "num_gpus", "ray_address", "num_cpus", "license",
          "dtype", "in_process_max", "objects_from", "forward_credentials", "stages", "stage"}
IN_PROCESS_MAX = 2000  # uncached items a stage runs in the driver rather than on Ray


@dataclass
class ProcessConfig:
    gates: GateConfig
    neardup: NearDupConfig
    semantic_eps: float = 0.01
    cross_modality: bool = False  # semantic verdicts between items of different modalities
    keep: str = "quality"  # [process.dedup] keep: which member of a duplicate group survives
    text_model: str | None = None
    image_model: str | None = None
    families: dict = field(default_factory=lambda: dict.fromkeys(FAMILY_BY_NAME, True))
    batch_size: int = 64
    num_gpus: float = 0.0
    num_cpus: int | None = None
    ray_address: str | None = None
    objects_from: str | None = None  # on a cluster: the remote (name or URL) workers read blobs from; "ray": none
    forward_credentials: bool = True  # the driver's credential variables reach the workers (runtime_env)
    in_process_max: int = IN_PROCESS_MAX
    dtype: str = "auto"  # embedding precision: auto = bf16 on a GPU, fp32 on CPUs
    license_allow: list = field(default_factory=list)
    license_deny: list = field(default_factory=list)
    stages: list = field(default_factory=list)  # user-defined stages (mmvc.process.stages), in config order
    stage_gates: dict = field(default_factory=dict)  # stage name -> RejectIf of [process.gates.NAME]

    @classmethod
    def from_table(cls, table: dict) -> ProcessConfig:
        from mmvc.process.gates import GateConfig
        from mmvc.process.neardup import NearDupConfig

        unknown = set(table) - _KNOWN
        if unknown:
            raise FormatError(f"unknown setting(s) under [process]: {', '.join(sorted(unknown))}",
                              f"valid ones: {', '.join(sorted(_KNOWN))} (docs/process.md)")
        sem = table.get("semantic", {})
        models = table.get("models", {})
        fams = {**dict.fromkeys(FAMILY_BY_NAME, True), **table.get("families", {})}
        for k in fams:
            if k not in FAMILY_BY_NAME:
                raise FormatError(f"unknown embedding family {k!r} under [process.families]", f"the families are {' and '.join(FAMILY_BY_NAME)}")
        from mmvc.process.keep import DEFAULT_KEEP, KEEP_POLICIES

        if "keep" in sem:
            raise FormatError("[process.semantic] keep has moved to [process.dedup] keep, which every dedup tier follows",
                              f"write keep = one of {', '.join(KEEP_POLICIES)} under [process.dedup] (docs/process.md)")
        unknown = set(sem) - {"eps", "cross_modality"}
        if unknown:
            raise FormatError(f"unknown setting(s) under [process.semantic]: {', '.join(sorted(unknown))}", "valid ones: eps, cross_modality")
        dedup = table.get("dedup", {})
        unknown = set(dedup) - {"keep"}
        if unknown:
            raise FormatError(f"unknown setting(s) under [process.dedup]: {', '.join(sorted(unknown))}", "valid ones: keep")
        keep = dedup.get("keep", DEFAULT_KEEP)
        if keep not in KEEP_POLICIES:
            raise FormatError(f"unknown keep policy {keep!r} under [process.dedup]", f"use one of {', '.join(KEEP_POLICIES)}")
        cross = sem.get("cross_modality", False)
        if not isinstance(cross, bool):
            raise FormatError(f"[process.semantic] cross_modality must be true or false, got {cross!r}",
                              "false (the default) compares only items of the same modality")
        nd = dict(table.get("neardup", {}))
        try:
            neardup = NearDupConfig(**nd)
        except TypeError as e:
            raise FormatError(f"bad [process.neardup] setting: {e}", "see docs/process.md") from None
        lic = table.get("license", {})
        in_process_max = table.get("in_process_max", IN_PROCESS_MAX)
        if isinstance(in_process_max, bool) or not isinstance(in_process_max, int) or in_process_max < 0:
            raise FormatError(f"[process] in_process_max must be a whole number ≥ 0, got {in_process_max!r}",
                              "the most uncached items a stage runs without starting Ray; 0 always uses Ray")
        objects_from = table.get("objects_from")
        if objects_from is not None and not isinstance(objects_from, str):
            raise FormatError(f"[process] objects_from must be a remote's name or a URL, got {objects_from!r}",
                              'name a remote (objects_from = "origin"), give an fsspec URL, or "ray" to ship bytes through Ray')
        forward = table.get("forward_credentials", True)
        if not isinstance(forward, bool):
            raise FormatError(f"[process] forward_credentials must be true or false, got {forward!r}",
                              "false leaves the workers to the cluster's own credentials (IAM)")
        if str(table.get("dtype", "auto")).lower() not in _DTYPES:
            raise FormatError(f"unknown [process] dtype {table.get('dtype')!r}", f"use one of {', '.join(sorted(_DTYPES))}")
        from mmvc.process.stages import load_specs, reject_ifs

        stages = load_specs(table.get("stages", []), table.get("stage", {}))
        gates_all = table.get("gates", {})
        stage_gates = reject_ifs(gates_all if isinstance(gates_all, dict) else {}, stages)
        names = {s.name for s in stages}
        gates_table = {k: v for k, v in gates_all.items() if k not in names} if isinstance(gates_all, dict) else gates_all
        return cls(
            gates=GateConfig.from_toml(gates_table),
            neardup=neardup,
            semantic_eps=float(sem.get("eps", 0.01)),
            cross_modality=cross,
            keep=keep,
            text_model=models.get("text") or None,
            image_model=models.get("image") or None,
            families={k: bool(v) for k, v in fams.items()},
            batch_size=int(table.get("batch_size", 64)),
            num_gpus=float(table.get("num_gpus", 0)),
            num_cpus=table.get("num_cpus"),
            ray_address=table.get("ray_address"),
            objects_from=objects_from or None,
            forward_credentials=forward,
            in_process_max=in_process_max,
            dtype=str(table.get("dtype", "auto")),
            license_allow=list(lic.get("allow", [])),
            license_deny=list(lic.get("deny", [])),
            stages=stages,
            stage_gates=stage_gates,
        )

    @classmethod
    def load(cls, repo) -> ProcessConfig:
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

    def stage_specs(self) -> list:
        return self.stages

    def image_model_id(self) -> str:
        return self.image_model or CLIP_FAMILY.default_model

    # -- hashes

    def _stage_doc(self, stage: str) -> dict:
        from mmvc.process.decode import DECODE_VERSION, language_detector
        from mmvc.process.neardup import ALGORITHM

        if stage == "decode":
            return {"v": PIPELINE_VERSION, "decode": DECODE_VERSION, "language": language_detector()}
        if stage == "gates":
            # the prep cache also holds the fingerprints the near-dup tiers compare
            return {"v": PIPELINE_VERSION, "decode": DECODE_VERSION, "language": language_detector(), "fingerprints": ALGORITHM,
                    "gates": self.gates.config_dict(),
                    "license": {"allow": sorted(self.license_allow), "deny": sorted(self.license_deny)}}
        if stage == "neardup":
            return {"v": PIPELINE_VERSION, "neardup": self.neardup.config_dict()}
        if stage == TEXT_FAMILY.stage:
            return {"v": PIPELINE_VERSION, "on": self.families.get(TEXT_FAMILY.name, True), "model": self.text_model or TEXT_FAMILY.default_model}
        if stage == CLIP_FAMILY.stage:
            on = self.families.get(CLIP_FAMILY.name, True)
            return {"v": PIPELINE_VERSION, "on": on, "model": self.image_model_id() if on else None}
        if stage == "semantic":
            return {"v": PIPELINE_VERSION, "eps": self.semantic_eps, "cross_modality": self.cross_modality}
        if stage == "dedup":
            from mmvc.process.keep import KeepPolicy

            return {"v": PIPELINE_VERSION, **KeepPolicy(self.keep).config_dict()}
        for spec in self.stages:
            if stage == spec.cache:  # the stage's cache key: its reject_if gate is not part of it
                return spec.doc()
        raise KeyError(stage)

    STAGES = ("decode", "gates", "neardup", TEXT_FAMILY.stage, CLIP_FAMILY.stage, "semantic", "dedup")

    def config_hash(self) -> str:
        """What an item's verdict depends on; batch size, GPUs, the engine and the Ray address do not."""
        from mmvc.core.hashing import hash_bytes

        return hash_bytes(canonical_json(self.describe()))

    def describe(self) -> dict:
        """Every stage's config document; user stages (after the built-ins) only when configured,
        so a config without them hashes as it always did."""
        doc = {s: self._stage_doc(s) for s in self.STAGES + tuple(spec.cache for spec in self.stages)}
        if self.stage_gates:
            doc["stage_gates"] = {n: g.expr for n, g in sorted(self.stage_gates.items())}
        return doc
