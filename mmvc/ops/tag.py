"""``mmvc tag``: lightweight tags (a ref) and annotated tags (a tag object with a message)."""

from __future__ import annotations

from dataclasses import dataclass

from mmvc.core.layout import TAGS, tag_ref
from mmvc.core.refs import check_ref_name
from mmvc.errors import BadInputError


@dataclass
class TagInfo:
    name: str
    target: str  # the commit the tag names
    annotated: bool
    message: str = ""
    tag_object: str = ""


def create_tag(repo, name: str, rev: str = "HEAD", message: str | None = None, force: bool = False) -> TagInfo:
    from mmvc.core.objects import Tag
    from mmvc.services.signature import signature

    check_ref_name(name, "tag")
    target = repo.resolve(rev)
    ref = tag_ref(name)
    with repo.locked("tag"):
        old = repo.refs.read(ref)
        if old is not None and not force:
            raise BadInputError(f"tag {name!r} already exists", "pick another name, or pass --force to replace it")
        who = signature(repo, "COMMITTER")
        pointed = target
        tag_oid = ""
        if message is not None:
            with repo.store.writer(durable=True) as w:
                tag_oid = pointed = w.put_bytes(Tag(target, name, who, message if message.endswith("\n") else message + "\n").encode())
        repo.refs.update(ref, pointed, old, f"tag: {name}", who.who)
    return TagInfo(name, target, message is not None, message or "", tag_oid)


def list_tags(repo) -> list[TagInfo]:
    from mmvc.core.objects import COMMIT, TAG, Tag, kind_of

    out = []
    for ref, oid in repo.refs.list(TAGS).items():
        data = repo.store.get(oid)
        name = ref[len(TAGS):]
        if kind_of(data, (COMMIT, TAG)) == TAG:
            t = Tag.decode(data, oid)
            out.append(TagInfo(name, t.object, True, t.message, oid))
        else:
            out.append(TagInfo(name, oid, False))
    return out


def delete_tag(repo, name: str) -> TagInfo:
    ref = tag_ref(name)
    with repo.locked("tag"):
        oid = repo.refs.read(ref)
        if oid is None:
            raise BadInputError(f"tag {name!r} not found", "`mmvc tag -l` lists the tags")
        repo.refs.delete(ref, oid)
    return TagInfo(name, oid, False)
