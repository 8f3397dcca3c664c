"""Writers racing on one repository wait for the lock (``core.lock_timeout``) instead of being
refused, and no one's update is lost."""

from __future__ import annotations

import os
import subprocess
import sys

from mmvc.repo import Repo

WRITERS = 8
ROUNDS = 2

SCRIPT = """
import subprocess, sys
root, me, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
for j in range(rounds):
    name = f"w{me}-{j}.txt"
    with open(f"{root}/{name}", "w") as f:
        f.write(f"writer {me} round {j}\\n")
    for args in (["add", name], ["commit", "--allow-empty", "-m", f"{me}/{j}"]):
        r = subprocess.run([sys.executable, "-m", "mmvc.cli.main", "-C", root, *args], capture_output=True, text=True)
        if r.returncode:
            print(f"{args[0]} exited {r.returncode}: {r.stderr}", flush=True)
            sys.exit(1)
"""


def test_eight_writers_neither_refused_nor_lost(repo):
    from mmvc.core.config import set_value

    # The default wait (30 s) is far more than eight queued commits need; a loaded test machine
    # can be slower than that, and this test is about waiting instead of refusing, not about time.
    set_value(repo, "core", "lock_timeout", 600)
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, repo.root, str(i), str(ROUNDS)], stdout=subprocess.PIPE, text=True)
             for i in range(WRITERS)]
    outs = [(p.wait(timeout=300), p.stdout.read()) for p in procs]
    assert [o for o in outs if o[0] != 0] == []  # no "locked" refusal, no other failure
    repo = Repo(repo.root)
    messages = [e.message.strip() for e in repo.log()]
    assert sorted(messages) == sorted(f"{i}/{j}" for i in range(WRITERS) for j in range(ROUNDS))  # every commit on the branch
    files = {e.path for e in repo.ls_files("HEAD")}
    assert files == {f"w{i}-{j}.txt" for i in range(WRITERS) for j in range(ROUNDS)}  # every add in the last version
    assert repo.status().clean
    assert repo.fsck(quick=True).ok
    assert not os.path.exists(os.path.join(repo.dir, "lock"))
