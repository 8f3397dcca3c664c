"""The object-store contract, run against every backend production uses: the local folder
store, the bucket store (what a remote's objects are) over file://, memory:// and s3:// (a real
moto server), and a partial clone's promisor store."""

from __future__ import annotations

import contextlib
import io
import os
import stat
import uuid

import pytest
from blake3 import blake3

from mmvc.core.bucket import Bucket
from mmvc.core.fsspec_store import FsspecObjectStore
from mmvc.core.promisor_store import PromisorObjectStore
from mmvc.core.store import COPY_CHUNK, LocalObjectStore, SourceChangedError, fingerprint
from mmvc.errors import CorruptError, ObjectNotFound, RemoteError
from mmvc.remote.transport import Remote, RemoteSpec

THRESHOLD = 1024  # objects up to this size are packed; a low value keeps "large" objects cheap


class LocalBackend:
    promised = False  # whether absent objects are asked of a promisor remote

    def __init__(self, tmp_path):
        self.root = str(tmp_path / "objects")
        LocalObjectStore.init_layout(self.root)

    def open_store(self, **kw) -> LocalObjectStore:
        kw.setdefault("pack_threshold", THRESHOLD)
        return LocalObjectStore(self.root, fsync=False, **kw)

    def files(self, sub: str = "") -> list[str]:
        base = os.path.join(self.root, sub)
        out = []
        for d, _, names in os.walk(base):
            out += [os.path.relpath(os.path.join(d, n), self.root).replace(os.sep, "/") for n in names]
        return sorted(out)

    def read(self, rel: str) -> bytes:
        with open(os.path.join(self.root, rel), "rb") as f:
            return f.read()

    def write(self, rel: str, data: bytes) -> None:
        path = os.path.join(self.root, rel)
        os.chmod(path, 0o644)
        with open(path, "wb") as f:
            f.write(data)

    def cleanup(self):
        pass


class BucketBackend:
    """The bucket store as a remote holds it: ``objects/`` under the remote's URL."""

    promised = False

    def __init__(self, url: str):
        self.url = url
        bucket = Bucket.from_url(url)
        self.fs, self.root = bucket.fs, bucket.path("objects")

    def open_store(self, **kw) -> FsspecObjectStore:
        kw.setdefault("pack_threshold", THRESHOLD)
        return FsspecObjectStore(Bucket.from_url(self.url), "objects", **kw)

    def files(self, sub: str = "") -> list[str]:
        base = f"{self.root}/{sub}".rstrip("/")
        return sorted(p[len(self.root) + 1 :] for p in self.fs.find(base))

    def read(self, rel: str) -> bytes:
        return self.fs.cat_file(f"{self.root}/{rel}")

    def write(self, rel: str, data: bytes) -> None:
        self.fs.pipe_file(f"{self.root}/{rel}", data)

    def cleanup(self):
        if self.fs.exists(self.root):
            self.fs.rm(self.root, recursive=True)


class PromisorBackend(LocalBackend):
    """A partial clone's store: the local folder, with its promisor remote behind it (empty
    here; the tests at the end of this file give it objects)."""

    promised = True

    def __init__(self, tmp_path):
        super().__init__(tmp_path)
        self.remote_url = f"file://{tmp_path}/promisor"

    def open_remote(self) -> FsspecObjectStore:
        return Remote(RemoteSpec("origin", self.remote_url)).objects(pack_threshold=THRESHOLD)

    def open_store(self, **kw) -> PromisorObjectStore:
        return PromisorObjectStore(super().open_store(**kw), self.open_remote)


@pytest.fixture(params=["local", "bucket-file", "bucket-memory", "bucket-s3", "promisor"])
def backend(request, tmp_path, monkeypatch):
    if request.param == "local":
        b = LocalBackend(tmp_path)
    elif request.param == "bucket-file":
        b = BucketBackend(f"file://{tmp_path}/remote")
    elif request.param == "bucket-memory":
        b = BucketBackend(f"memory://mmvc-test-{uuid.uuid4().hex}/remote")
    elif request.param == "bucket-s3":
        server = request.getfixturevalue("s3_server")
        server.apply_env(monkeypatch)
        b = BucketBackend(f"s3://{server.make_bucket()}/remote")
    else:
        b = PromisorBackend(tmp_path)
    yield b
    b.cleanup()


@pytest.fixture
def store(backend):
    return backend.open_store()


def loose_rel(oid: str) -> str:
    return f"{oid[:2]}/{oid[2:4]}/{oid}"


SMALL = [b"", b"a", b"caption: a dog on a beach \xf0\x9f\x90\x95", bytes(range(256)) * 4]
LARGE = os.urandom(THRESHOLD + 1)


def put_all(store, blobs) -> list[str]:
    with store.writer() as w:
        return [w.put_bytes(b) for b in blobs]


@contextlib.contextmanager
def raises_absent(backend, oid: str):
    """What asking for an object nobody stored raises: ObjectNotFound; in a partial clone the
    promisor remote is asked for it, and its not having it is the remote's error."""
    if backend.promised:
        with pytest.raises(RemoteError, match=f"{oid} on remote origin is missing"):
            yield
    else:
        with pytest.raises(ObjectNotFound) as err:
            yield
        assert err.value.oid == oid


# --------------------------------------------------------------------------- reads and writes


def test_put_get_round_trip_and_ids_are_blake3(store):
    blobs = [*SMALL, LARGE]
    oids = put_all(store, blobs)
    assert oids == [blake3(b).hexdigest() for b in blobs]
    assert [store.get(o) for o in oids] == blobs
    assert store.put(b"one more") == blake3(b"one more").hexdigest()
    assert store.get(blake3(b"one more").hexdigest()) == b"one more"


def test_small_objects_are_packed_not_loose(backend, store):
    oids = put_all(store, SMALL)
    files = backend.files()
    assert not any(loose_rel(o) in files for o in oids)
    packs = backend.files("pack")
    assert len(packs) == 2 and packs[0].endswith(".idx") and packs[1].endswith(".pack")
    assert backend.files("tmp") == []


def test_large_objects_are_loose_at_ab_cd_id(backend, store):
    (oid,) = put_all(store, [LARGE])
    assert backend.read(loose_rel(oid)) == LARGE
    assert backend.files("pack") == []
    assert backend.files("tmp") == []


def test_has_has_many_and_size(backend, store):
    oids = put_all(store, [*SMALL, LARGE])
    missing = blake3(b"never stored").hexdigest()
    assert all(store.has(o) for o in oids)
    assert not store.has(missing)
    assert store.has_many(oids) == set(oids)
    with raises_absent(backend, missing) if backend.promised else contextlib.nullcontext():
        assert store.has_many([*oids, missing]) == set(oids)
    assert [store.size(o) for o in oids] == [len(b) for b in [*SMALL, LARGE]]


def test_has_many_with_a_large_batch(backend, store):
    # Backends may answer big batches differently (the local one reads whole pack indexes).
    oids = put_all(store, [*SMALL, LARGE])
    absent = [blake3(i.to_bytes(4, "little")).hexdigest() for i in range(5000)]
    with raises_absent(backend, absent[0]) if backend.promised else contextlib.nullcontext():
        assert store.has_many(absent[:2500] + oids + absent[2500:]) == set(oids)


def test_open_streams_packed_and_loose_objects(store):
    big = os.urandom(3 * THRESHOLD)
    oids = put_all(store, [SMALL[-1], big])
    for oid, data in zip(oids, [SMALL[-1], big]):
        with store.open(oid) as f:
            chunks = iter(lambda: f.read(100), b"")
            assert b"".join(chunks) == data


def test_iter_ids_lists_every_object_once(store):
    first = put_all(store, [*SMALL, LARGE])
    second = put_all(store, [b"later", SMALL[1], os.urandom(THRESHOLD * 2)])
    listed = list(store.iter_ids())
    assert len(listed) == len(set(listed))
    assert set(listed) == set(first) | set(second)


def test_putting_the_same_bytes_again_stores_them_once(backend, store):
    with store.writer() as w:
        a = w.put_bytes(b"same")
        assert w.put_bytes(b"same") == a
        big = w.put_bytes(LARGE)
        w.put_bytes(LARGE)
        assert w.written == 2
    before = {f: backend.read(f) for f in backend.files()}
    with store.writer() as w:
        assert (w.put_bytes(b"same"), w.put_bytes(LARGE)) == (a, big)
        assert w.written == 0
    assert {f: backend.read(f) for f in backend.files()} == before
    assert sorted(store.iter_ids()) == sorted([a, big])


def test_writer_splits_packs_at_its_size_limit(backend, store):
    blobs = [os.urandom(600) for _ in range(10)]
    with store.writer() as w:
        w.pack_max_bytes = 2000
        oids = [w.put_bytes(b) for b in blobs]
    assert len(backend.files("pack")) >= 2 * 4
    fresh = backend.open_store()
    assert [fresh.get(o) for o in oids] == blobs


def test_put_file_streams_a_file_larger_than_the_copy_chunk(store, tmp_path):
    path = tmp_path / "video.bin"
    data = os.urandom(COPY_CHUNK + 12345)
    path.write_bytes(data)
    with store.writer() as w:
        oid, size, head = w.put_file(str(path), head=16)
    assert (oid, size, head) == (blake3(data).hexdigest(), len(data), data[:16])
    assert store.size(oid) == len(data)
    with store.open(oid) as f:
        assert f.read(COPY_CHUNK + 1) == data[: COPY_CHUNK + 1]
        assert f.read() == data[COPY_CHUNK + 1 :]
    assert path.read_bytes() == data  # the source is untouched


def test_put_file_of_a_small_file_packs_it(backend, store, tmp_path):
    path = tmp_path / "caption.txt"
    path.write_bytes(b"hello")
    with store.writer() as w:
        oid, size, head = w.put_file(str(path), head=3)
    assert (oid, size, head) == (blake3(b"hello").hexdigest(), 5, b"hel")
    assert loose_rel(oid) not in backend.files()
    assert store.get(oid) == b"hello"


def test_put_file_refuses_a_file_that_changed_since_it_was_seen(store, tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"first")
    seen = fingerprint(os.stat(path))
    path.write_bytes(b"second, longer")
    with pytest.raises(SourceChangedError):
        with store.writer() as w:
            w.put_file(str(path), expected=seen)


def test_missing_object_raises_object_not_found(backend, store):
    put_all(store, [b"something"])
    missing = blake3(b"missing").hexdigest()
    for read in (store.get, store.size, store.open):
        with raises_absent(backend, missing):
            read(missing)


# --------------------------------------------------------------------------- crash safety


def test_an_aborted_writer_leaves_no_visible_object_and_no_temp_pack(backend, store):
    blobs = [b"half-written 1", b"half-written 2"]
    with pytest.raises(RuntimeError):
        with store.writer() as w:
            oids = [w.put_bytes(b) for b in blobs]
            raise RuntimeError("interrupted")
    assert backend.files("tmp") == []
    assert backend.files("pack") == []
    fresh = backend.open_store()
    for s in (store, fresh):
        assert not any(s.has(o) for o in oids)
        assert list(s.iter_ids()) == []
        with raises_absent(backend, oids[0]):
            s.get(oids[0])


def test_a_pack_written_by_one_instance_is_seen_by_another(backend):
    reader = backend.open_store()
    assert list(reader.iter_ids()) == []  # the reader has looked at pack/ before the write
    writer_store = backend.open_store()
    oids = put_all(writer_store, [b"x", b"y"])
    assert reader.has(oids[0])
    assert reader.get(oids[1]) == b"y"
    assert backend.open_store().get(oids[0]) == b"x"


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[:-1],  # truncated
        lambda b: b + b"\0",  # trailing garbage
        lambda b: b"XXXX" + b[4:],  # bad magic
        lambda b: b[:1100] + bytes([b[1100] ^ 1]) + b[1101:],  # a flipped bit among the ids
        lambda b: b[:-80] + bytes([b[-80] ^ 1]) + b[-79:],  # a flipped bit in an offset or length
    ],
    ids=["truncated", "trailing", "magic", "id-bit", "offset-bit"],
)
def test_a_corrupt_pack_index_raises_corrupt_error(backend, damage):
    oids = put_all(backend.open_store(), [b"x", b"y", b"zz"])
    (idx,) = [f for f in backend.files("pack") if f.endswith(".idx")]
    backend.write(idx, damage(backend.read(idx)))
    with pytest.raises(CorruptError):
        backend.open_store().get(oids[0])


def test_backends_share_one_layout(tmp_path):
    """A store written by the local backend is read by the bucket one over the same folder, and
    the other way round: the formats are the same bytes."""
    root = str(tmp_path / "objects")
    LocalObjectStore.init_layout(root)
    local = LocalObjectStore(root, pack_threshold=THRESHOLD, fsync=False)
    remote = FsspecObjectStore(Bucket.from_url(f"file://{root}"), pack_threshold=THRESHOLD)
    a = put_all(local, [b"from local", LARGE])
    b = put_all(remote, [b"from fsspec", LARGE[::-1]])
    assert [remote.get(o) for o in a] == [b"from local", LARGE]
    assert [local.get(o) for o in b] == [b"from fsspec", LARGE[::-1]]
    assert sorted(local.iter_ids()) == sorted(remote.iter_ids()) == sorted(a + b)


def test_fsspec_store_from_url():
    url = f"memory://mmvc-test-{uuid.uuid4().hex}"
    s = FsspecObjectStore.from_url(url)
    try:
        oid = s.put(b"via url")
        assert FsspecObjectStore.from_url(url).get(oid) == b"via url"
    finally:
        s.bucket.fs.rm(s.bucket.root, recursive=True)


def test_fsspec_store_reads_objects_by_location_alone():
    """What a process worker does: reads objects by the locations the driver handed it, with
    no pack index of its own, and refuses bytes that do not hash to their id."""
    url = f"memory://mmvc-test-{uuid.uuid4().hex}"
    s = FsspecObjectStore.from_url(url, pack_threshold=THRESHOLD)
    try:
        blobs = [*SMALL, LARGE]
        oids = put_all(s, blobs)
        where = {o: s.location(o) for o in oids}
        assert isinstance(where[oids[-1]], str) and all(isinstance(where[o], tuple) for o in oids[:-1])
        reader = FsspecObjectStore.from_url(url)
        assert reader.read_located(where) == dict(zip(oids, blobs))
        assert reader._packs is None  # no index was listed or read
        pack, off, length = where[oids[2]]
        with pytest.raises(CorruptError, match="do not hash to its id"):
            reader.read_located({oids[2]: (pack, off + 1, length)})
    finally:
        s.bucket.fs.rm(s.bucket.root, recursive=True)


# --------------------------------------------------------------------------- local link modes


def _big_file(tmp_path, name="clip.mp4") -> tuple[str, bytes]:
    data = os.urandom(THRESHOLD * 3)
    path = tmp_path / name
    path.write_bytes(data)
    return str(path), data


@pytest.mark.parametrize("modes, shares_inode", [(("hardlink", "copy"), True), (("copy",), False), (("reflink", "copy"), False)])
def test_local_link_modes_store_read_only_files(tmp_path, modes, shares_inode):
    backend = LocalBackend(tmp_path)
    store = backend.open_store(link_modes=modes)
    src, data = _big_file(tmp_path)
    with store.writer() as w:
        oid, _, _ = w.put_file(src)
    target = store.loose_path(oid)
    st = os.stat(target)
    assert stat.S_IMODE(st.st_mode) == 0o444
    assert (st.st_ino == os.stat(src).st_ino) is shares_inode
    assert store.get(oid) == data
    assert backend.files("tmp") == []


def test_local_copy_mode_is_independent_of_the_source(tmp_path):
    store = LocalBackend(tmp_path).open_store(link_modes=("copy",))
    src, data = _big_file(tmp_path)
    with store.writer() as w:
        oid, _, _ = w.put_file(src)
    with open(src, "r+b") as f:
        f.write(b"changed afterwards")
    assert store.get(oid) == data


def test_unknown_link_mode_is_refused(tmp_path):
    from mmvc.errors import BadInputError

    with pytest.raises(BadInputError):
        LocalBackend(tmp_path).open_store(link_modes=("teleport",))


def test_local_store_open_is_a_real_stream(tmp_path):
    store = LocalBackend(tmp_path).open_store()
    (oid,) = put_all(store, [LARGE])
    with store.open(oid) as f:
        assert not isinstance(f, io.BytesIO)  # large objects are not read into memory
        assert f.read() == LARGE


# --------------------------------------------------------------------------- promisor


def test_promisor_store_fetches_what_only_its_remote_holds_on_first_read(tmp_path):
    backend = PromisorBackend(tmp_path)
    small, big, other = b"a promised caption", os.urandom(3 * THRESHOLD), b"another one"
    oids = put_all(backend.open_remote(), [small, big, other])
    store = backend.open_store()
    assert not any(store.has(o) for o in oids)  # promised objects are not here yet
    assert store.get(oids[0]) == small
    assert store.local.has(oids[0]) and store.fetched == 1
    with store.open(oids[1]) as f:
        assert f.read() == big
    assert store.size(oids[2]) == len(other)
    assert store.has_many(oids) == set(oids) and store.fetched == 3
    fresh = backend.open_store()
    assert [fresh.get(o) for o in oids] == [small, big, other] and fresh.fetched == 0  # stored for good


def test_promisor_store_prefetches_a_batch_and_refuses_a_corrupt_copy(tmp_path):
    backend = PromisorBackend(tmp_path)
    blobs = [f"caption {i}".encode() for i in range(20)]
    remote = backend.open_remote()
    oids = put_all(remote, blobs)
    store = backend.open_store()
    assert store.prefetch(oids[:10]) == 10 and store.prefetch(oids[:10]) == 0
    assert store.remote.bucket.requests["get"] == 2  # the pack's index, then one ranged read of the ten
    (pack,) = [p for p in os.listdir(tmp_path / "promisor" / "objects" / "pack") if p.endswith(".pack")]
    path = tmp_path / "promisor" / "objects" / "pack" / pack
    data = bytearray(path.read_bytes())
    data[data.find(b"caption 15")] ^= 0x20
    path.write_bytes(bytes(data))
    with pytest.raises(RemoteError, match=f"{oids[15]} on remote origin is corrupt"):
        store.get(oids[15])
    assert not store.local.has(oids[15])
    assert store.get(oids[14]) == blobs[14]
