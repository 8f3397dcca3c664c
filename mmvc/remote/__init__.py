"""Remotes: a repository's objects and refs on any fsspec filesystem (``s3://``, ``gs://``,
``file://``, ``memory://``), and the transfers between it and a local repository.

``transport`` opens the filesystem and turns its failures into ``RemoteError``; ``refs`` moves
remote refs by compare-and-swap; ``negotiate`` finds what the other side lacks; ``packs`` moves
objects in pack files (small ones) or alone (large ones); ``promisor`` fetches the blobs a
partial clone left behind when a reader first needs them.
"""
