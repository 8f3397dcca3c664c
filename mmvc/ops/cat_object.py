from __future__ import annotations

from dataclasses import dataclass

from mmvc.core.hashing import hash_bytes, is_object_id
from mmvc.errors import BadInputError, CorruptError


@dataclass
class ObjectInfo:
    oid: str
    kind: str  # what the bytes declare (docs/format.md, "Objects"): node, commit, tag, recipe, process-run, process-report, blob
    size: int
    data: bytes | None = None


def cat_object(repo, oid: str, with_data: bool = True) -> ObjectInfo:
    """An object by id. No reference leads here, so its kind is the one its bytes declare."""
    from mmvc.core.objects import declared_kind, read_header

    oid = oid.strip().lower()
    if not is_object_id(oid):
        if len(oid) >= 4 and all(c in "0123456789abcdef" for c in oid):
            matches = [o for o in repo.store.iter_ids() if o.startswith(oid)]
            if len(matches) > 1:
                raise BadInputError(f"ambiguous object id {oid!r}: {', '.join(m[:12] for m in matches[:10])}", "give more characters")
            if matches:
                oid = matches[0]
        if not is_object_id(oid):
            raise BadInputError(f"{oid!r} is not an object id", "give the 64-character hex id, or a unique prefix of it")
    size = repo.store.size(oid)
    if not with_data:
        with repo.store.open(oid) as f:
            head = f.read(64 << 10)
        h = read_header(head)
        return ObjectInfo(oid, h.kind if h else declared_kind(head) if size <= len(head) else "blob", size)
    data = repo.store.get(oid)
    if hash_bytes(data) != oid:  # never hand out bytes under an id they do not have
        raise CorruptError(f"object {oid} is corrupt (its bytes no longer hash to its id)",
                           "run `mmvc fsck` to see which versions it breaks; fetch it again from a remote that has it intact")
    return ObjectInfo(oid, declared_kind(data), size, data)


def pretty(repo, info: ObjectInfo) -> dict:
    """A JSON-ready view of a manifest node or of a JSON object (commit, tag, recipe, process run,
    eval, training-run record)."""
    import json

    from mmvc.core.manifest import decode_node
    from mmvc.core.modality import modality_name
    from mmvc.core.objects import COMMIT, EVAL, PROCESS_RUN, RECIPE, TAG, TRAINING_RUN, open_json

    assert info.data is not None  # read with its data
    if info.kind in (COMMIT, TAG, RECIPE, PROCESS_RUN, EVAL, TRAINING_RUN):
        return open_json(info.data, info.oid, info.kind)[0]
    if info.kind == "node":
        node = decode_node(info.data, info.oid)
        if node.is_leaf:
            items = [{"path": it[0], "oid": it[1].hex(), "size": it[2], "modality": modality_name(it[3]), "flags": it[4],
                      "meta": json.loads(it[5]) if it[5] else None} for it in node.items]
        else:
            items = [{"first": it[0], "child": it[1].hex(), "items": sum(it[2][:5]), "bytes": sum(it[2][5:])} for it in node.items]
        return {"type": "leaf" if node.is_leaf else "internal", "level": node.level, "entries": items}
    raise BadInputError(f"object {info.oid} is a {info.kind}; -p shows manifest nodes and JSON objects (commits, tags, recipes, process runs, evals, training runs)",
                        "use `mmvc cat-object HASH > file` for its bytes")
