"""The curation pipeline behind ``mmvc process`` (the only package that imports ray).

Stages run cheapest first and write soft metadata, never deleting: decode + validate
(``decode``), rule gates (``gates``), exact dedup, near-exact dedup (``neardup``), embedding
and semantic dedup (``semantic``). Embedding is four modules, as open_clip splits its own:
``models`` resolves and loads a model, ``transforms`` prepares pictures, ``embedders`` turns
text and pictures into vectors, ``udfs`` are the Ray actors around them. ``pipeline`` wires the
stages into Ray Data, ``cache`` keeps per-blob results keyed by (blob id, stage config hash);
the run's report is written by ``mmvc.services.runs``. Nothing here is imported by
``mmvc.cli`` at start-up.
"""
