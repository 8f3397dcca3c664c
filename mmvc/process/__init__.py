"""The curation pipeline behind ``mmvc process`` (the only package that imports ray).

Stages run cheapest first and write soft metadata, never deleting: decode + validate
(``decode``), rule gates (``gates``), exact dedup, near-exact dedup (``neardup``), embedding
(``embed``) and semantic dedup (``semantic``); ``pipeline`` wires them into Ray Data, ``cache``
keeps per-blob results keyed by (blob id, stage config hash), ``report`` writes the failure
dataset. Nothing here is imported by ``mmvc.cli`` at start-up.
"""
