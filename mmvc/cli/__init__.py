"""The command line. Parses, makes one library call, renders the result; no logic lives here.

Nothing heavy is imported at module level: ``import mmvc.cli`` must stay fast (a test asserts
that ray, torch, transformers, lance, pyarrow and webdataset are not loaded by it).
"""
