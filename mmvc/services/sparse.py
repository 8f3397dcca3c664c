"""Sparse rules: which items of a version are materialised in the work tree.

Kept in ``.mmvc/sparse.json`` (docs/format.md) and honoured by every command that writes the
work tree (switch, checkout, merge, clone), so an item left out by ``checkout --sparse`` stays
out whichever of them moves HEAD next.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field



@dataclass
class Sparse:
    """Which items are materialised: globs (gitignore syntax) and/or modalities; empty = all."""

    patterns: list[str] = field(default_factory=list)
    modalities: list[int] = field(default_factory=list)
    imported: bool = False  # materialise imported items too (they stay out of the work tree unless asked for)

    def __post_init__(self):
        self._spec = None
        if self.patterns:
            import pathspec

            self._spec = pathspec.GitIgnoreSpec.from_lines(self.patterns)

    @property
    def active(self) -> bool:
        return bool(self.patterns or self.modalities or self.imported)

    def wants(self, path: str, modality: int, meta: str = "") -> bool:
        if self.modalities and modality not in self.modalities:
            return False
        if self._spec is not None:
            return self._spec.match_file(path)
        return self.imported or not is_imported(meta)

    @classmethod
    def load(cls, repo) -> Sparse:
        try:
            with open(repo.layout.sparse) as f:
                doc = json.load(f)
            return cls.from_doc(doc)
        except FileNotFoundError:
            return cls()

    def doc(self) -> dict:
        """The rules as ``sparse.json`` holds them (docs/format.md, "Sparse checkout")."""
        doc = {"modalities": self.modalities, "patterns": self.patterns}
        if self.imported:
            doc["imported"] = True
        return doc

    @classmethod
    def from_doc(cls, doc: dict) -> Sparse:
        return cls(list(doc.get("patterns", [])), list(doc.get("modalities", [])), bool(doc.get("imported", False)))

    def save(self, repo) -> None:
        from mmvc.core.atomicfile import atomic_write

        path = repo.layout.sparse
        if not self.active:
            if os.path.exists(path):
                os.unlink(path)
            return
        atomic_write(path, json.dumps(self.doc(), sort_keys=True).encode())


def is_imported(meta: str) -> bool:
    """Whether an item came in through ``mmvc import`` (its metadata names a connector)."""
    return '"provenance":{"connector":' in meta
