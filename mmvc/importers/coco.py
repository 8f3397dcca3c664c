"""COCO captions: ``annotations/captions_<split>.json`` names the images of ``<split>/``.

Each image is an item whose caption is its annotations' captions (in annotation-id order, one
per line); its licence comes from the annotations' ``licenses`` table when it is a Creative
Commons URL, unless ``--license`` overrides it. An image the annotations name but the folder
lacks is reported and the rest imports.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator

from mmvc.core.modality import IMAGE
from mmvc.errors import BadInputError
from mmvc.importers.base import Connector, Item, Skip, Unit, scalar_extra
from mmvc.importers.folder import parse_json
from mmvc.importers.fsio import source_file

UNIT_IMAGES = 5000
_CC = re.compile(r"creativecommons\.org/licenses/([a-z-]+)/([0-9.]+)")


def spdx_from_url(url: str | None) -> str | None:
    m = _CC.search(url or "")
    return f"cc-{m.group(1)}-{m.group(2)}" if m else None


class CocoConnector(Connector):
    name = "coco"
    default_source = "coco"

    def _annotation_files(self) -> list[str]:
        root = self.root.rstrip("/")
        ann_dir = root + "/annotations"
        if not self.fs.isdir(ann_dir):
            raise BadInputError(f"{self.uri} has no annotations/ folder", "point at the COCO root (the folder holding annotations/ and val2017/)")
        found = sorted(p for p in self.fs.glob(ann_dir + "/captions_*.json"))
        split = self.options.split
        if split:
            found = [p for p in found if posixpath.basename(p)[len("captions_"):].startswith(split)]
        if not found:
            have = sorted(posixpath.basename(p) for p in self.fs.glob(ann_dir + "/captions_*.json"))
            raise BadInputError(f"no captions annotations{' for split ' + repr(split) if split else ''} in {ann_dir}",
                                f"found: {', '.join(have) or 'none'}; --split picks one (e.g. --split val)")
        return found

    def plan(self) -> list[Unit]:
        units = []
        root = self.root.rstrip("/")
        for ann in self._annotation_files():
            rel_ann = self.relative(ann)
            with self.fs.open(ann, "rb") as fh:
                doc = parse_json(fh.read(), rel_ann)
            if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
                raise BadInputError(f"{rel_ann} is not a COCO captions file (no images list)", "point at captions_<split>.json annotations")
            split_dir = posixpath.basename(ann)[len("captions_") : -len(".json")]
            licenses = {lic.get("id"): lic for lic in doc.get("licenses") or [] if isinstance(lic, dict)}
            caps: dict = {}
            for a in doc.get("annotations") or []:
                if isinstance(a, dict) and isinstance(a.get("caption"), str):
                    caps.setdefault(a.get("image_id"), []).append((a.get("id"), a["caption"].strip()))
            images = sorted((im for im in doc["images"] if isinstance(im, dict) and im.get("file_name")), key=lambda im: im["file_name"])
            ann_file = source_file(self.fs, ann)
            lic_urls = {k: lic.get("url") for k, lic in licenses.items()}
            for start in range(0, len(images), UNIT_IMAGES):
                part = images[start : start + UNIT_IMAGES]
                # the per-image work (caption order, licence) is left to read(), which workers run in parallel
                ids = {im.get("id") for im in part}
                units.append(Unit(f"{rel_ann}#{start}", len(part), {"ann": rel_ann, "split_dir": split_dir, "images": part, "root": root,
                                                                     "captions": {k: caps[k] for k in ids if k in caps},
                                                                     "licenses": lic_urls}, (ann_file,)))
        return units

    @staticmethod
    def _rows(spec: dict) -> Iterator[dict]:
        caps, lics = spec["captions"], spec["licenses"]
        for im in spec["images"]:
            c = sorted(caps.get(im.get("id"), []), key=lambda t: (t[0] is None, t[0]))
            yield {"image": im, "captions": c, "license": spdx_from_url(lics.get(im.get("license")))}

    def read(self, unit: Unit, wanted: Callable[[int], bool]) -> Iterator[Item | Skip]:
        root, split_dir, rel_ann = unit.spec["root"], unit.spec["split_dir"], unit.spec["ann"]
        for i, row in enumerate(self._rows(unit.spec)):
            if not wanted(i):
                continue
            im = row["image"]
            name = im["file_name"]
            path = f = None
            for cand in (f"{root}/{split_dir}/{name}", f"{root}/images/{split_dir}/{name}", f"{root}/images/{name}"):
                try:
                    f = source_file(self.fs, cand)
                except FileNotFoundError:
                    continue
                path = cand
                break
            where = f"{rel_ann} image {im.get('id')} ({name})"
            if path is None:
                yield Skip(where, f"the annotations name {split_dir}/{name}, which is not in the folder")
                continue
            location = {"file": rel_ann, "image_id": im.get("id"), "annotation_ids": [a for a, _ in row["captions"]]}
            meta = self.base_meta(location, f)
            if row["captions"]:
                meta["caption"] = "\n".join(c for _, c in row["captions"])
            if not self.options.license and row["license"]:
                meta["license"] = row["license"]
            extra = scalar_extra(im, self.options.meta_fields or None, skip=("file_name", "id", "license"))
            if extra:
                meta["extra"] = extra
            assert f is not None
            yield Item(self.relative(path), IMAGE, meta, location, path=path, size=f.size)
