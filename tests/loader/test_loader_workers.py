"""DataLoader worker processes: no hang in any order of in-process and worker iteration, workers
that exit with their parent, and a state dict taken mid-epoch while workers read ahead.

The orders run in a child process that holds nothing but the loader (as a training script
does), so its workers are forked from it; a hang fails the test through the child's timeout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from mmvc.loader import DataLoader, MMVCDataset

ORDERS = textwrap.dedent('''
    import sys

    from mmvc.loader import DataLoader, MMVCDataset


    def make(source):
        if source == "store":
            return MMVCDataset(repo=sys.argv[2], rev="main", seed=1, batch_size=16, store_shard_items=40, allow_ungated=True)
        return MMVCDataset(sys.argv[3], seed=1, batch_size=16, allow_ungated=True)


    def main(order, source):
        expected = None
        alive = []  # half-read in-process epochs whose prefetch threads are still running
        for step in order:
            ds = make(source)
            if step == "W":
                keys = [k for b in DataLoader(ds, batch_size=16, num_workers=2) for k in b["key"]]
            elif step == "H":
                it = iter(ds)
                keys = [next(it)["key"] for _ in range(ds.total // 2)]
                alive.append(it)
            else:
                keys = [s["key"] for s in ds]
            expected = expected or keys
            n = min(len(keys), len(expected))
            assert keys[:n] == expected[:n], (order, step)
            expected = max(expected, keys, key=len)
        print("ok", order)


    if __name__ == "__main__":
        main(sys.argv[1], sys.argv[4])
''')

STALL = textwrap.dedent('''
    import os
    import sys
    import time

    from mmvc.loader import DataLoader, MMVCDataset


    def stall(data, meta):
        open(os.path.join(sys.argv[2], str(os.getpid())), "w").close()
        time.sleep(600)  # a worker stuck in a decoder


    if __name__ == "__main__":
        ds = MMVCDataset(sys.argv[1], seed=1, allow_ungated=True, decoders={"image": stall, "text": stall})
        for _ in DataLoader(ds, batch_size=4, num_workers=2):
            pass
''')


def run_script(tmp_path, text: str, *args: str, timeout: float = 120) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of a script; on a hang its whole process group is killed,
    workers included, and the test fails."""
    script = tmp_path / "script.py"
    script.write_text(text)
    child = subprocess.Popen([sys.executable, str(script), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        out, err = child.communicate()
        pytest.fail(f"hung: {' '.join(args)}\n{err[-2000:]}")
    return child.returncode, out, err


@pytest.mark.parametrize("source", ["export", "store"])
@pytest.mark.parametrize("order", ["PW", "HWP", "WPW"])
def test_no_hang_in_any_order_of_in_process_and_worker_iteration(big_shards, tmp_path, order, source):
    """P: a whole epoch in process, H: half of one, its iterator left open, W: an epoch with 2
    DataLoader workers. Every pass sees the same order."""
    root, out = big_shards
    code, stdout, stderr = run_script(tmp_path, ORDERS, order, root, out, source)
    assert code == 0, stderr[-3000:]
    assert stdout.strip() == f"ok {order}"


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_exit_with_their_parent(big_shards, tmp_path):
    _, out = big_shards
    pids_dir = tmp_path / "pids"
    pids_dir.mkdir()
    (tmp_path / "script.py").write_text(STALL)
    parent = subprocess.Popen([sys.executable, str(tmp_path / "script.py"), out, str(pids_dir)], start_new_session=True)
    workers: list[int] = []
    try:
        for _ in range(1200):  # until both workers are inside a decoder
            workers = [int(p) for p in os.listdir(pids_dir)]
            if len(workers) == 2 or parent.poll() is not None:
                break
            time.sleep(0.1)
        assert len(workers) == 2 and parent.poll() is None
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        for _ in range(600):
            if all(_gone(p) for p in workers):
                break
            time.sleep(0.1)
        orphans = [p for p in workers if not _gone(p)]
    finally:
        try:
            os.killpg(parent.pid, signal.SIGKILL)  # whatever is left of the script's group
        except ProcessLookupError:
            pass
        parent.wait()
    assert not orphans, "DataLoader workers outlived their parent"


def test_a_state_dict_taken_mid_epoch_with_workers_resumes_exactly(exported):
    _, out = exported
    full = [s["key"] for s in MMVCDataset(out, seed=5, allow_ungated=True)]
    ds = MMVCDataset(out, seed=5, allow_ungated=True)
    seen, state = [], None
    for t, batch in enumerate(DataLoader(ds, batch_size=4, num_workers=2)):
        seen += batch["key"]
        if t == 4:
            state = ds.state_dict()  # a checkpoint while the workers keep reading ahead
    assert seen == full
    assert state is not None and (state["epoch"], state["consumed"]) == (0, 20)
    again = MMVCDataset(out, seed=5, allow_ungated=True)
    again.load_state_dict(state)
    assert [k for b in DataLoader(again, batch_size=4, num_workers=2) for k in b["key"]] == full[20:]
    assert again.state_dict()["epoch"] == 1
