"""The repository core: objects, the object store, manifests, the index, refs and config."""
