"""Run records from the loader: which version, recipe or export a training run read, with the
loader's state at every checkpoint, so an eval (``mmvc eval add --run NAME``) links results to
exactly the samples the model consumed. Format: docs/format.md, "Training runs".

Only rank 0 writes (the ranks share one order; rank 0's state says where all of them are). A
record is written object first, then ``refs/runs/NAME`` moves to it by compare-and-swap, so a
trainer killed mid-write leaves the previous checkpoint as the run's newest.
"""

from __future__ import annotations

import time

from mmvc.errors import BadInputError, LockedError

LOCK_WAIT_SECONDS = 30.0  # a checkpoint waits this long for another mmvc writer before failing


class RunRecorder:
    """Appends checkpoints to training run ``name``; made by ``record_run``."""

    def __init__(self, repo, name: str, commit: str, setup: dict, recipe: str | None = None, export: str | None = None):
        self._repo = repo
        self.root = repo.root
        self.name = name
        self.commit = commit
        self.setup = dict(setup)
        self.recipe = recipe
        self.export = export
        self.head: str | None = None
        self._last_state: dict | None = None

    def __getstate__(self):  # DataLoader workers get the dataset pickled: they never record
        d = dict(self.__dict__)
        d["_repo"] = None
        return d

    @property
    def repo(self):
        if self._repo is None:
            from mmvc.services.repository import Repository

            self._repo = Repository(self.root)
        return self._repo

    def start(self) -> str:
        """Write the run's first record, or continue a run of this name over the same data (a
        restarted job); refuse a name already used for other data."""
        from mmvc.services.evals import read_run, run_tip

        old = run_tip(self.repo, self.name)
        if old is not None:
            rec = read_run(self.repo, old)
            if (rec.commit, rec.recipe, rec.export) != (self.commit, self.recipe, self.export):
                raise BadInputError(f"training run {self.name!r} is already recorded over other data (version {rec.commit[:12]})",
                                    "name this run differently, e.g. run='" + self.name + "-2'")
            self.head = old
            self._last_state = (rec.checkpoint or {}).get("state")
            return old
        return self._append(None, None)

    def checkpoint(self, state: dict, step: int | None = None) -> str:
        """Record the loader's ``state`` (what ``state_dict()`` returned) at a checkpoint the
        trainer saves; the same state twice in a row is recorded once."""
        if self.head is None:
            self.start()
        if state == self._last_state and step is None:
            assert self.head is not None
            return self.head
        return self._append(state, step)

    def _append(self, state: dict | None, step: int | None) -> str:
        from mmvc.core.training_runs import TrainingRun
        from mmvc.services.evals import append_run
        from mmvc.services.signature import signature

        repo = self.repo
        rec = TrainingRun(name=self.name, commit=self.commit, author=signature(repo, "AUTHOR"), setup=self.setup,
                          recipe=self.recipe, export=self.export,
                          checkpoint=None if state is None else {"state": state, "step": None if step is None else int(step)},
                          previous=self.head)
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                oid = append_run(repo, rec, self.head, "run: " + ("start" if state is None else "checkpoint"))
                break
            except LockedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.head, self._last_state = oid, state
        return oid


def record_run(repo, name: str, dataset) -> RunRecorder:
    """Start (or continue) run ``name`` of ``dataset`` (an ``MMVCDataset``) in ``repo`` (a Repo
    or Repository, or the folder of one); call ``.checkpoint(dataset.state_dict(), step)`` at each checkpoint."""
    from mmvc.core.refs import check_ref_name

    if isinstance(repo, str):
        from mmvc.services.repository import Repository

        repo = Repository.discover(repo)
    check_ref_name(name, "run")
    src = dataset.source
    setup = {"batch_size": dataset.batch_size, "samples": dataset.total, "seed": dataset.seed, "shuffle": dataset.shuffle,
             "shuffle_block": dataset.shuffle_block, "source": src.kind, "world_size": dataset.world_size}
    if src.kind == "export":
        info = src.index.info
        commit, export = info.get("commit"), src.identity
        recipe = info.get("recipe") if info.get("recipe") and repo.store.has(info["recipe"]) else None
        if not commit or not repo.store.has(commit):
            raise BadInputError(f"the export at {src.location} holds version {str(commit)[:12]}, which is not in {repo.root}",
                                "record the run in the repository the export was made from (repo=…)")
    else:
        commit, export = src.recipe.commit, None
        with repo.store.writer() as w:  # the selection the run reads, named or not, stays with the run
            recipe = w.put_bytes(src.recipe.encode())
    rec = RunRecorder(repo, name, commit, setup, recipe=recipe, export=export)
    rec.start()
    return rec
