"""``mmvc search``: nearest items of a version to a text or an example, per embedding family.

The two families live in different spaces, so results come back per family and are never
merged: a text query searches ``text_vector`` (text and audio items) with the text model and,
through CLIP's text tower, ``clip_vector`` (image and video items); ``--image`` searches
``clip_vector`` with CLIP's image tower; ``--modality`` picks the family. Queries embed with the
models the repository's process config names, the ones that produced the catalog's vectors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from mmvc.core.families import BY_NAME, CLIP_FAMILY, FAMILIES
from mmvc.errors import BadInputError

FAMILY_OF = {m: f.name for f in FAMILIES for m in f.modality_names}  # modality name -> family name
DEFAULT_HIT_COLUMNS = ("size", "license", "source", "caption", "transcript", "width", "height", "duration_s")


@dataclass
class FamilyHits:
    family: str  # text | clip
    column: str
    model: str
    hits: list = field(default_factory=list)  # mmvc.catalog.vector.Hit
    note: str = ""


@dataclass
class SearchResult:
    rev: str
    commit: str
    query: str
    k: int
    where: str | None
    families: list[FamilyHits] = field(default_factory=list)


def search(repo, query: str | None = None, image: str | None = None, text_file: str | None = None, rev: str = "HEAD",
           modality: str | None = None, k: int = 10, where: str | None = None, allow_ungated: bool = False,
           columns=None) -> SearchResult:
    from mmvc.core.extras import require

    require("process", "pyarrow", "lance", "torch", "transformers", what="mmvc search")
    from mmvc.catalog.read import check_columns, dataset_for, version
    from mmvc.catalog.scope import lookup, scope
    from mmvc.catalog.table import family_counts
    from mmvc.catalog.vector import nearest
    from mmvc.process.config import ProcessConfig

    if k < 1:
        raise BadInputError(f"-k must be at least 1, not {k}", "ask for one or more results")
    given = [x for x in (query, image, text_file) if x]
    if len(given) != 1:
        raise BadInputError("search needs exactly one of: a text query, --image FILE, --text-file FILE",
                            'e.g. `mmvc search "a dog on a beach"` or `mmvc search --image query.jpg`')
    if modality is not None and modality not in FAMILY_OF:
        raise BadInputError(f"unknown modality {modality!r}", f"use one of: {', '.join(FAMILY_OF)}")
    if text_file:
        query = _read_text(text_file)
    cols = [c for c in check_columns(columns if columns is not None else DEFAULT_HIT_COLUMNS) if c != "key"]
    if image:
        if modality and FAMILY_OF[modality] != CLIP_FAMILY.name:
            raise BadInputError(f"--image searches image and video items, not {modality}", "drop --modality, or use --modality image|video")
        families = [CLIP_FAMILY.name]
    elif modality:
        families = [FAMILY_OF[modality]]
    else:
        families = list(BY_NAME)
    explicit = bool(image or modality)
    v = version(repo, rev, allow_ungated, "search")
    sc = scope(repo, v.tree, v.near)
    ds = dataset_for(repo, v, sc)
    cfg = ProcessConfig.load(repo)
    where_all = where
    if modality:
        where_all = f"modality = '{modality}'" + (f" AND ({where})" if where else "")
    res = SearchResult(rev=rev, commit=v.commit, query=image or query or "", k=k, where=where)
    counts = family_counts(ds) if ds is not None else dict.fromkeys(BY_NAME, 0)
    for fam in families:
        column = BY_NAME[fam].column
        off = not cfg.families.get(fam, True)
        if counts.get(fam, 0) == 0 or off:
            why = (f"the {fam} family is turned off ([process.families] {fam} = false)" if off
                   else f"the catalog holds no {column} yet (no {' or '.join(BY_NAME[fam].modality_names)} item has passed `mmvc process` and been committed)")
            if explicit or len(families) == 1:
                raise BadInputError(f"cannot search {column}: {why}", "process and commit items of that family first, or search the other family")
            res.families.append(FamilyHits(fam, column, "", note=why))
            continue
        vec, model = _embed_query(cfg, fam, query, image)
        hits = nearest(ds, column, vec, k, where_all, lookup(repo, v.tree), cols, tree=v.tree)
        fh = FamilyHits(fam, column, model, hits)
        if not hits:
            fh.note = f"no item of {rev} matches" + (" the filter" if where_all else " in this family")
        res.families.append(fh)
    return res


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read().strip()
    except (OSError, UnicodeDecodeError) as e:
        raise BadInputError(f"cannot read the query text file {path}: {getattr(e, 'strerror', None) or e}", "give a readable UTF-8 file") from None
    if not text:
        raise BadInputError(f"the query text file {path} is empty", "put the query text in it")
    return text


def _embed_query(cfg, family: str, query: str | None, image: str | None):
    if family == "text":
        from mmvc.process.embedders import TextEmbedder

        assert query is not None  # an image query searches the clip family only
        emb = TextEmbedder(cfg.text_model, batch_size=1)
        return emb.embed([query])[0], emb.model_id
    from mmvc.process.embedders import ClipEmbedder

    clip = ClipEmbedder(cfg.image_model_id(), batch_size=1)
    if image:
        return clip.embed_images([_load_image(image)])[0], clip.model_id
    assert query is not None  # exactly one of query and image is given
    return clip.embed_texts([query])[0], clip.model_id


def _load_image(path: str):
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    if not os.path.isfile(path):
        raise BadInputError(f"the query image {path} does not exist", "give the path of an image file")
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError) as e:
        raise BadInputError(f"cannot decode the query image {path} ({e})", "give a PNG, JPEG, WebP or other image PIL reads") from None
