"""A bounded sample of the fault campaign (tests/faults/harness.py): each writing command killed
at seeded random moments and at its named failpoints. The seed rotates by day, so CI covers new
kill points over time; a failure names the seed and the moment, which replays it
(``MMVC_FAULT_SEED=<seed>``). ``benchmarks/fault_campaign.py`` runs 1,000 kills."""

from __future__ import annotations

import os
import random
import time

import pytest

from tests.faults.harness import SCENARIOS, kill_once, measure

SEED = int(os.environ.get("MMVC_FAULT_SEED", int(time.time() // 86400)))
KILLS_PER_COMMAND = int(os.environ.get("MMVC_FAULT_KILLS", "2"))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("faults"))


@pytest.fixture(scope="module")
def measured(workdir):
    done = {}

    def get(name):
        if name not in done:
            measure(SCENARIOS[name], workdir)
            done[name] = SCENARIOS[name]
        return done[name]

    return get


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_random_kill_points(measured, workdir, name):
    scenario = measured(name)
    rng = random.Random(f"{SEED}-{name}")
    failures = []
    for _ in range(KILLS_PER_COMMAND):
        out = kill_once(scenario, workdir, rng)
        if out.problems:
            failures.append(f"{name} killed at {out.at} (seed {SEED}): {out.problems}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("name,point", [("switch", "worktree-file:7"), ("switch", "worktree-index:1"),
                                        ("merge", "worktree-file:40"), ("merge", "worktree-index:1")])
def test_named_failpoints(measured, workdir, name, point):
    out = kill_once(measured(name), workdir, random.Random(SEED), failpoint=point)
    assert out.killed, f"{point} was never reached by `mmvc {name}`"
    assert not out.problems, out.problems
