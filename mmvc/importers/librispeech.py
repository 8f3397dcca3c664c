"""LibriSpeech: ``<speaker>/<chapter>/<speaker>-<chapter>.trans.txt`` lines ``<utterance> TEXT``
name the ``<utterance>.flac`` files beside them. Each utterance is an audio item carrying its
transcript; keys keep the subset's folder name (``dev-clean/84/121123/84-121123-0000.flac``).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator

from mmvc.core.modality import AUDIO
from mmvc.errors import BadInputError
from mmvc.importers.base import Connector, Item, Skip, Unit
from mmvc.importers.fsio import source_file


class LibriSpeechConnector(Connector):
    name = "librispeech"
    default_source = "librispeech"

    def plan(self) -> list[Unit]:
        root = self.root.rstrip("/")
        trans = sorted(p for p in self.fs.find(root) if p.endswith(".trans.txt"))
        if not trans:
            raise BadInputError(f"no *.trans.txt transcripts under {self.uri}", "point at a LibriSpeech subset, e.g. LibriSpeech/dev-clean")
        units = []
        for t in trans:
            f = source_file(self.fs, t)
            with self.fs.open(t, "rb") as fh:
                lines = fh.read().decode("utf-8").splitlines()
            units.append(Unit(t, len(lines), {"lines": lines}, (f,)))
        return units

    def relative(self, path: str) -> str:
        """Keys keep the subset folder (dev-clean, train-clean-100 …) so subsets never collide."""
        parent = posixpath.dirname(self.root.rstrip("/"))
        return path[len(parent) + 1 :] if parent and path.startswith(parent + "/") else super().relative(path)

    def read(self, unit: Unit, wanted: Callable[[int], bool]) -> Iterator[Item | Skip]:
        d = posixpath.dirname(unit.name)
        rel_trans = self.relative(unit.name)
        for n, line in enumerate(unit.spec["lines"]):
            if not wanted(n):
                continue
            where = f"{rel_trans} line {n + 1}"
            utt, _, text = line.strip().partition(" ")
            if not utt or not text.strip():
                yield Skip(where, "not '<utterance id> <transcript>'")
                continue
            path = f"{d}/{utt}.flac"
            try:
                f = source_file(self.fs, path)
            except FileNotFoundError:
                yield Skip(where, f"{utt}.flac is missing")
                continue
            location = {"file": rel_trans, "line": n + 1, "utterance": utt}
            meta = self.base_meta(location, f)
            meta["transcript"] = text.strip()
            yield Item(self.relative(path), AUDIO, meta, location, path=path, size=f.size)
