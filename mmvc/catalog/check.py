"""What ``mmvc fsck`` says about the catalog: readable, of a known format, and holding a row for
every item of every branch tip and HEAD. The catalog is derived data, so every finding's fix is
``mmvc catalog rebuild``; a missing row is a warning (the version still reads from the store),
an unreadable table an error."""

from __future__ import annotations

import os

REBUILD = "run `mmvc catalog rebuild` to regenerate it from the object store and the feature cache"


def catalog_findings(repo) -> list:
    from mmvc.core.extras import installed
    from mmvc.services.reachability import Finding

    if not installed("pyarrow", "lance"):
        return [Finding("info", "catalog", "the catalog was not checked: this installation lacks its packages",
                        hint="pip install 'mmvc[catalog]'")]
    from mmvc.catalog.read import missing_rows
    from mmvc.catalog.scope import scope
    from mmvc.catalog.table import dataset_path, open_dataset
    from mmvc.core.layout import HEADS
    from mmvc.errors import MmvcError

    path = dataset_path(repo)
    tips: dict[str, str] = {}
    try:
        for name, oid in repo.refs.list(HEADS).items():
            tips.setdefault(oid, name)
        _, head = repo.head()
        if head:
            tips.setdefault(head, "HEAD")
    except MmvcError:
        return []  # broken refs are reported by the object walk
    try:
        ds = open_dataset(repo)
        if ds is not None:
            ds.count_rows()
            ds.to_table(columns=["item_id"])
    except MmvcError as e:
        return [Finding("error", "catalog", e.message, path=path, hint=REBUILD)]
    except Exception as e:
        return [Finding("error", "catalog", f"the catalog at .mmvc/catalog is unreadable ({str(e).splitlines()[0][:200] if str(e) else type(e).__name__})",
                        path=path, hint=REBUILD)]
    out = []
    for oid, name in sorted(tips.items(), key=lambda kv: kv[1]):
        try:
            tree = repo.read_commit(oid).tree
            sc = scope(repo, tree) if tree else None
        except MmvcError:
            continue  # a broken version is the object walk's finding
        if sc is None or sc.num_rows == 0:
            continue
        missing = sc.num_rows if ds is None else missing_rows(ds, tree, sc)
        if missing:
            where = "no catalog exists" if ds is None else "the catalog has no row for them"
            out.append(Finding("warning", "catalog", f"{missing} of {sc.num_rows} item(s) of {name} ({oid[:12]}): {where}",
                               path=path if os.path.exists(path) else "", versions=[oid], refs=[name], hint=REBUILD, count=missing))
    return out
