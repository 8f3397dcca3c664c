"""Training-ready data: recipes (which items, in which mixture), deterministic WebDataset
shards and their index. The loader that reads them back lives in ``mmvc.loader``."""
