"""``Repo``: the one public Python API. It binds every verb the command line has (DVC-style) on a
repository (``mmvc.services.repository.Repository``: finding one and its parts); the verbs
themselves live in ``mmvc.ops``, imported inside each method so that ``import mmvc.repo`` stays
light."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from mmvc.services.repository import MMVC_DIR, Repository

__all__ = ["MMVC_DIR", "Repo"]


class Repo(Repository):
    """A repository with every verb on it: ``Repo.discover()``, ``Repo.init(path)``, then
    ``repo.add(...)``, ``repo.commit(...)`` and so on."""

    # -- making

    @staticmethod
    def find_dataset(start: str = ".") -> str | None:
        """For Git hooks (``mmvc-pre-commit``): the mmvc repository at or above ``start``, else
        the one in a subfolder of it (a Git repository that holds its dataset in ``data/``)."""
        from mmvc.ops.precommit import find_dataset

        return find_dataset(start)

    @classmethod
    def init(cls, path: str = ".", ungated: bool = False, branch: str = "main") -> Repo:
        """``mmvc init``: a new repository in ``path``; ``ungated`` commits skip the curation gate."""
        from mmvc.ops.init import init

        return cls(init(path, ungated=ungated, branch=branch).root)

    @classmethod
    def clone(cls, url: str, path: str | None = None, branch: str | None = None, filter: str | None = None,
              sparse: Sequence[str] = (), no_checkout: bool = False, endpoint_url: str | None = None, jobs: int = 8,
              progress=None):
        """``mmvc clone``: a new repository at ``path`` (default: the URL's last part) from the remote
        at ``url``. ``filter="blob:none"`` makes a partial clone whose blobs come on first use.
        Returns a CloneResult; ``Repo(result.path)`` opens the new repository."""
        from mmvc.ops.clone import clone

        return clone(url, path, branch=branch, filter=filter, sparse=list(sparse), no_checkout=no_checkout,
                     endpoint_url=endpoint_url, progress=progress, jobs=jobs)

    # -- verbs: every command of the CLI is one of these (each lives in mmvc/ops/<verb>.py)

    # staging

    def add(self, paths: Sequence[str], modality: str | int | None = None, force: bool = False, jobs: int | None = None,
            progress=None, cwd: str | None = None):
        """``mmvc add``: hash, store and stage files, folders or globs. ``modality`` (a name such as
        "image") overrides detection; ``force`` adds ignored files."""
        from mmvc.ops.add import add

        return add(self, list(paths), modality=_modality(modality), force=force, jobs=jobs, progress=progress, cwd=cwd)

    def import_(self, connector: str, sources: Sequence[str], options=None, *, text_field: str | None = None,
                id_field: str | None = None, meta: Sequence[str] = (), license: str | None = None,
                license_field: str | None = None, source: str | None = None, prefix: str | None = None,
                modality: str | int | None = None, split: str | None = None, revision: str | None = None,
                limit: int | None = None, sample: int | None = None, seed: int = 0, resume: bool = False,
                replace: bool = False, dry_run: bool = False, jobs: int | None = None, progress=None):
        """``mmvc import``: stage items from a dataset, table, archive or bucket (docs/import.md).
        The connector options come either as keywords or as a ready ``ImportOptions``."""
        from mmvc.importers.base import ImportOptions
        from mmvc.ops.import_ import import_

        if options is None:
            options = ImportOptions(text_field=text_field, id_field=id_field, meta_fields=list(meta), license=license,
                                    license_field=license_field, source=source, prefix=prefix, modality=_modality(modality),
                                    split=split, revision=revision)
        return import_(self, connector, list(sources), options, limit=limit, sample=sample, seed=seed, resume=resume,
                       replace=replace, dry_run=dry_run, jobs=jobs, progress=progress)

    def status(self, untracked: bool = True):
        """``mmvc status``: staged, unstaged and untracked changes, with process verdicts."""
        from mmvc.ops.status import status

        return status(self, untracked=untracked)

    def rm(self, paths: Sequence[str], cached: bool = False, recursive: bool = False, force: bool = False, cwd: str | None = None,
           literal: bool = False):
        """``mmvc rm``: stop tracking items and (unless ``cached``) delete their files. ``literal``
        takes the paths as names, never as globs."""
        from mmvc.ops.rm import rm

        return rm(self, list(paths), cached=cached, recursive=recursive, force=force, cwd=cwd, literal=literal)

    def mv(self, src: str, dst: str, force: bool = False, cwd: str | None = None):
        """``mmvc mv``: rename a tracked file or folder in the work tree and the index together."""
        from mmvc.ops.mv import mv

        return mv(self, src, dst, force=force, cwd=cwd)

    def restore(self, paths: Sequence[str], staged: bool = False, worktree: bool | None = None, source: str | None = None,
                cwd: str | None = None, literal: bool = False):
        """``mmvc restore``: put back work-tree files (from the index or ``source``) and/or index
        entries (from HEAD or ``source``). ``literal`` takes the paths as names, never as globs."""
        from mmvc.ops.restore import restore

        return restore(self, list(paths), staged=staged, worktree=worktree, source=source, cwd=cwd, literal=literal)

    # the pipeline and the gate

    def process(self, only: Sequence[str] | None = None, text_model: str | None = None, image_model: str | None = None,
                batch_size: int | None = None, num_gpus: float | None = None, ray_address: str | None = None, progress=None):
        """``mmvc process``: decode, validate, gate, deduplicate and embed the staged items."""
        from mmvc.ops.process import process

        return process(self, only=list(only) if only else None, text_model=text_model, image_model=image_model,
                       batch_size=batch_size, num_gpus=num_gpus, ray_address=ray_address, progress=progress)

    def report(self, rev: str | None = None, include_passed: bool = False):
        """``mmvc report``: why items were rejected or deduplicated (the staged run's, or ``rev``'s)."""
        from mmvc.ops.report import report

        return report(self, rev=rev, include_passed=include_passed)

    def commit(self, message: str, allow_empty: bool = False, no_verify: bool = False):
        """``mmvc commit``: record the staged items that cross the trust boundary as a new version."""
        from mmvc.ops.commit import commit

        return commit(self, message, allow_empty=allow_empty, no_verify=no_verify)

    # history

    def log(self, rev: str = "HEAD", max_count: int | None = None, all_refs: bool = False, graph: bool = False,
            evals: bool = False):
        """``mmvc log``: an iterator of the commits reachable from ``rev``, newest first; ``evals``
        adds each version's evals, summarised per name (mean and spread per metric)."""
        from mmvc.ops.log import log

        return log(self, rev, max_count=max_count, all_refs=all_refs, graph=graph, evals=evals)

    def show(self, rev: str = "HEAD"):
        """``mmvc show``: a version's commit and its counts and bytes per modality."""
        from mmvc.ops.show import show

        return show(self, rev)

    def diff(self, rev_a: str | None = None, rev_b: str | None = None, cached: bool = False, paths: Iterable[str] = (),
             cwd: str | None = None):
        """``mmvc diff``: no revision compares the index with the work tree; ``cached`` compares
        ``rev_a`` (default HEAD) with the index; one revision compares it with the work tree; two
        compare two versions. ``paths`` limit it."""
        from mmvc.ops.diff import diff

        return diff(self, rev_a, rev_b, cached=cached, paths=paths, cwd=cwd)

    def ls_files(self, rev: str | None = None, prefix: str = ""):
        """``mmvc ls-files``: an iterator of the items of the index (no ``rev``) or of a version."""
        from mmvc.ops.ls_files import ls_files

        return ls_files(self, rev, prefix)

    def ls_page(self, rev: str = "HEAD", offset: int = 0, limit: int = 100):
        """One page of a version's items in path order, with the version's item count (``mmvc ui``'s grid)."""
        from mmvc.ops.ls_files import ls_page

        return ls_page(self, rev, offset, limit)

    def item(self, key: str, rev: str = "HEAD"):
        """The manifest entry of the item at ``key`` in ``rev``; BadInputError when it has none."""
        from mmvc.ops.ls_files import item

        return item(self, key, rev)

    def cat_object(self, oid: str, with_data: bool = True):
        """``mmvc cat-object``: a stored object's kind, size and (``with_data``) bytes."""
        from mmvc.ops.cat_object import cat_object

        return cat_object(self, oid, with_data=with_data)

    def pretty_object(self, info) -> dict:
        """``mmvc cat-object -p``: a commit, tag or manifest node from ``cat_object`` as plain data."""
        from mmvc.ops.cat_object import pretty

        return pretty(self, info)

    def rev_parse(self, rev: str, abbrev_ref: bool = False) -> str:
        """``mmvc rev-parse``: the id of the object ``rev`` names (a commit, or a tree for
        ``REV^{tree}``); ``abbrev_ref``: the short name of the ref it stands for instead."""
        from mmvc.services.revparse import abbrev_ref as short_name, parse

        return short_name(self, rev) if abbrev_ref else parse(self, rev)[0]

    def reflog(self, ref: str = "HEAD") -> list[dict]:
        """``mmvc reflog``: where ``ref`` has pointed, newest first."""
        from mmvc.ops.reflog import reflog

        return reflog(self, ref)

    # branches, tags, merges

    def switch(self, name: str, create: bool = False, start: str | None = None, force: bool = False, detach: bool = False):
        """``mmvc switch``: make branch ``name`` current (``create`` it at ``start`` first), updating
        only the files that differ."""
        from mmvc.ops.checkout import switch

        return switch(self, name, create=create, start=start, force=force, detach=detach)

    def checkout(self, rev: str, paths: Sequence[str] | None = None, force: bool = False, sparse: Sequence[str] | None = None,
                 modality: Sequence[str | int] | None = None, no_sparse: bool = False, cwd: str | None = None):
        """``mmvc checkout``: switch to a branch or detach HEAD at ``rev``; with ``paths``, restore
        those paths from ``rev``. ``sparse`` globs and ``modality`` names limit what is materialised."""
        from mmvc.ops.checkout import checkout

        mods = [m for m in map(_modality, modality) if m is not None] if modality else None
        return checkout(self, rev, paths=list(paths) if paths else None, force=force, sparse=list(sparse) if sparse else None,
                        modality=mods, no_sparse=no_sparse, cwd=cwd)

    def branch(self, name: str, start: str = "HEAD", force: bool = False):
        """``mmvc branch NAME [START]``: create (``force``: move) a branch; copies no bytes."""
        from mmvc.ops.branch import create_branch

        return create_branch(self, name, start, force=force)

    def list_branches(self, verbose: bool = False):
        """``mmvc branch``: every branch; ``verbose`` adds each tip's subject."""
        from mmvc.ops.branch import list_branches

        return list_branches(self, verbose=verbose)

    def delete_branch(self, name: str, force: bool = False):
        """``mmvc branch -d`` (``force``: ``-D``)."""
        from mmvc.ops.branch import delete_branch

        return delete_branch(self, name, force=force)

    def rename_branch(self, old: str, new: str):
        """``mmvc branch -m OLD NEW``."""
        from mmvc.ops.branch import rename_branch

        return rename_branch(self, old, new)

    def tag(self, name: str, rev: str = "HEAD", message: str | None = None, force: bool = False):
        """``mmvc tag NAME [REV]``: a lightweight tag, or an annotated one with ``message``."""
        from mmvc.ops.tag import create_tag

        return create_tag(self, name, rev, message=message, force=force)

    def list_tags(self):
        """``mmvc tag -l``."""
        from mmvc.ops.tag import list_tags

        return list_tags(self)

    def delete_tag(self, name: str):
        """``mmvc tag -d NAME``."""
        from mmvc.ops.tag import delete_tag

        return delete_tag(self, name)

    def merge(self, rev: str, strategies: Sequence[str] = (), message: str | None = None, no_verify: bool = False,
              no_ff: bool = False):
        """``mmvc merge REV``: fast-forward when possible, else a three-way merge; ``strategies``
        (``ours|theirs[:GLOB]``) settle conflicts. The result's ``status`` says which happened."""
        from mmvc.ops.merge import merge

        return merge(self, rev, list(strategies), message=message, no_verify=no_verify, no_ff=no_ff)

    def merge_continue(self, strategies: Sequence[str] = (), no_verify: bool = False):
        """``mmvc merge --continue``: commit a merge whose conflicts are settled."""
        from mmvc.ops.merge import merge_continue

        return merge_continue(self, list(strategies), no_verify=no_verify)

    def merge_abort(self):
        """``mmvc merge --abort``: give up the merge in progress and restore the prior state."""
        from mmvc.ops.merge import merge_abort

        return merge_abort(self)

    # remotes

    def add_remote(self, name: str, url: str, endpoint_url: str | None = None, force: bool = False):
        """``mmvc remote add``: remember ``url`` (any fsspec URL or a folder) as ``name``."""
        from mmvc.ops.remote import add_remote

        return add_remote(self, name, url, endpoint_url=endpoint_url, force=force)

    def list_remotes(self):
        """``mmvc remote list``."""
        from mmvc.ops.remote import list_remotes

        return list_remotes(self)

    def remove_remote(self, name: str):
        """``mmvc remote remove``: forget the remote and its remote-tracking refs."""
        from mmvc.ops.remote import remove_remote

        return remove_remote(self, name)

    def push(self, remote: str | None = None, refs: Sequence[str] = (), all_branches: bool = False, tags: bool = False,
             recipes: bool = False, evals: bool = False, force: bool = False, no_verify: bool = False, jobs: int = 8,
             progress=None):
        """``mmvc push``: send the current branch (or ``refs``) and the objects the remote lacks;
        ``evals`` sends every eval and training run with the versions they name."""
        from mmvc.ops.push import push

        return push(self, remote, list(refs), all_branches=all_branches, tags=tags, recipes=recipes, evals=evals, force=force,
                    no_verify=no_verify, jobs=jobs, progress=progress)

    def fetch(self, remote: str | None = None, jobs: int = 8, progress=None):
        """``mmvc fetch``: download what the remote has and this repository lacks; moves only
        ``refs/remotes/REMOTE/*``."""
        from mmvc.ops.fetch import fetch

        return fetch(self, remote, progress=progress, jobs=jobs)

    def pull(self, remote: str | None = None, branch: str | None = None, strategies: Sequence[str] = (), jobs: int = 8,
             progress=None):
        """``mmvc pull``: fetch, then merge the remote's ``branch`` (default: the current one's name)."""
        from mmvc.ops.pull import pull

        return pull(self, remote, branch, progress=progress, jobs=jobs, strategies=list(strategies))

    # the catalog

    def catalog(self, rev: str = "HEAD", where: str | None = None, columns=None, allow_ungated: bool = False):
        """The catalog as of ``rev``: ``.to_arrow()``, ``.to_pandas()``, ``.to_lance()`` (docs/catalog.md)."""
        from mmvc.ops.catalog import CatalogView

        return CatalogView(self, rev, where=where, columns=columns, allow_ungated=allow_ungated)

    def catalog_status(self):
        """``mmvc catalog status``: rows, vectors and indexes, and HEAD's items without a row."""
        from mmvc.ops.catalog import status

        return status(self)

    def rebuild_catalog(self, progress=None):
        """``mmvc catalog rebuild``: regenerate the catalog from every reachable version."""
        from mmvc.ops.catalog import rebuild

        return rebuild(self, progress=progress)

    def search(self, query: str | None = None, image: str | None = None, text_file: str | None = None, rev: str = "HEAD",
               modality: str | None = None, k: int = 10, where: str | None = None, columns=None, allow_ungated: bool = False):
        """``mmvc search``: the items of ``rev`` nearest to a text (or an ``image``), per embedding family."""
        from mmvc.ops.search import search

        return search(self, query=query, image=image, text_file=text_file, rev=rev, modality=modality, k=k, where=where,
                      allow_ungated=allow_ungated, columns=columns)

    def query(self, rev: str = "HEAD", where: str | None = None, columns=None, limit: int | None = None):
        """``mmvc query``: the catalog rows of ``rev`` that match ``where``."""
        from mmvc.ops.query import query

        return query(self, rev=rev, where=where, columns=columns, limit=limit)

    def lineage(self, item: str, rev: str | None = None):
        """``mmvc lineage``: an item's (``KEY`` or ``KEY@REV``) source chain, license, process config and models."""
        from mmvc.ops.lineage import lineage

        return lineage(self, item, rev)

    def datasheet(self, rev: str = "HEAD", out: str = "datasheet"):
        """``mmvc datasheet``: write ``out/datasheet.md`` and its plots for a version."""
        from mmvc.ops.datasheet import datasheet

        return datasheet(self, rev, out)

    # training data

    def create_recipe(self, name: str, rev: str = "HEAD", where: str | None = None, mix: str | None = None, seed: int = 0,
                      epoch_size: int | None = None, force: bool = False, allow_ungated: bool = False):
        """``mmvc recipe create``: store a recipe (version, filter, mixture, seed) under ``name``."""
        from mmvc.ops.recipe import create_recipe

        return create_recipe(self, name, rev, where=where, mix=mix, seed=seed, epoch_size=epoch_size, force=force,
                             allow_ungated=allow_ungated)

    def show_recipe(self, name: str, stats: bool = False):
        """``mmvc recipe show``: a recipe by name or object id; ``stats`` counts what it selects."""
        from mmvc.ops.recipe import show_recipe

        return show_recipe(self, name, stats=stats)

    def list_recipes(self):
        """``mmvc recipe list``."""
        from mmvc.ops.recipe import list_recipes

        return list_recipes(self)

    def delete_recipe(self, name: str):
        """``mmvc recipe delete``: remove the name (the object goes at the next gc)."""
        from mmvc.ops.recipe import delete_recipe

        return delete_recipe(self, name)

    def add_eval(self, rev: str, name: str, metrics, format: str = "auto", model: str | None = None, run: str | None = None,
                 recipe: str | None = None, export: str | None = None, notes: str | None = None, higher: Sequence[str] = (),
                 lower: Sequence[str] = ()):
        """``mmvc eval add``: pin a model's results to version ``rev``. ``metrics``: a file path
        (JSON, lm-eval results, CSV), a file's bytes, or a mapping of names to numbers."""
        from mmvc.ops.eval import add_eval

        return add_eval(self, rev, name, metrics, fmt=format, model=model, run=run, recipe=recipe, export=export, notes=notes,
                        higher=list(higher), lower=list(lower))

    def list_evals(self, rev: str | None = None, name: str | None = None):
        """``mmvc eval list``: the evals of ``rev`` (default: every version), oldest first."""
        from mmvc.ops.eval import list_evals

        return list_evals(self, rev, name=name)

    def show_eval(self, eval_id: str):
        """``mmvc eval show``: one eval by its id or a unique prefix of it."""
        from mmvc.ops.eval import show_eval

        return show_eval(self, eval_id)

    def compare_evals(self, rev_a: str, rev_b: str, name: str | None = None):
        """``mmvc eval compare``: per metric, the two versions' values (mean ± spread) and the delta."""
        from mmvc.ops.eval import compare_evals

        return compare_evals(self, rev_a, rev_b, name=name)

    def export(self, target: str, rev: str | None = None, where: str | None = None, recipe: str | None = None,
               mix: str | None = None, seed: int | None = None, epoch_size: int | None = None,
               shard_size: int | str | None = None, shard_items: int | None = None, with_embeddings: bool = False,
               jobs: int = 0, resume: bool = False, force: bool = False, allow_ungated: bool = False,
               verify_objects: bool = True, progress=None):
        """``mmvc export --webdataset TARGET``: deterministic WebDataset shards of a version or recipe."""
        from mmvc.ops.export import export

        return export(self, target, rev=rev, where=where, recipe=recipe, mix=mix, seed=seed, epoch_size=epoch_size,
                      shard_size=shard_size, shard_items=shard_items, with_embeddings=with_embeddings, jobs=jobs,
                      resume=resume, force=force, allow_ungated=allow_ungated, verify_objects=verify_objects,
                      progress=progress)

    # settings and maintenance

    def get_config(self, key: str):
        """``mmvc config KEY``: a setting of ``.mmvc/config.toml`` (None when unset)."""
        from mmvc.ops.config import get_config

        return get_config(self, key)

    def list_config(self) -> dict:
        """``mmvc config --list``: every setting under its dotted key."""
        from mmvc.ops.config import list_config

        return list_config(self)

    def set_config(self, key: str, value: str):
        """``mmvc config KEY VALUE``: set a setting; ``value`` is parsed as TOML would read it."""
        from mmvc.ops.config import set_config

        return set_config(self, key, value)

    def git_tracked(self, limit: int = 10) -> list[str]:
        """Files of this work tree that Git tracks too (besides settings files such as
        .gitignore): where pre-commit would stash them, a hook must not judge the dataset."""
        from mmvc.ops.precommit import git_tracked

        return git_tracked(self.root, limit)

    def completions(self, kind: str, incomplete: str = "") -> list[str]:
        """What a shell's Tab offers for an argument naming a ``kind`` of thing (revision, branch,
        tag, remote, remote-branch, recipe, config-key) that starts with ``incomplete``."""
        from mmvc.ops.completion import completions

        return completions(self, kind, incomplete)

    def fsck(self, quick: bool = False, progress=None):
        """``mmvc fsck``: check every version, the index and the store; ``quick`` skips re-hashing."""
        from mmvc.ops.fsck import fsck

        return fsck(self, quick=quick, progress=progress)

    def gc(self, prune: str | None = None, dry_run: bool = False, progress=None):
        """``mmvc gc``: remove unreachable objects older than ``prune`` and repack."""
        from mmvc.ops.gc import gc

        return gc(self, prune=prune, dry_run=dry_run, progress=progress)


def _modality(m: str | int | None) -> int | None:
    if m is None or isinstance(m, int):
        return m
    from mmvc.core.modality import parse_modality

    return parse_modality(m)
