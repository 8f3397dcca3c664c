"""Connectors for ``mmvc import``: sources (tables, datasets, archives, buckets) turned into items.

``base`` defines what a connector is, ``registry`` finds one by name (built in, or registered
by another package under the ``mmvc.connectors`` entry-point group), ``fsio`` resolves local
paths and URLs to one fsspec code path, ``chunk`` holds a unit's rows in columns and
``checkpoint`` the finished units of an import that ``--resume`` continues. The verb itself is
``mmvc.ops.import_``.
"""

from mmvc.importers.base import Connector, ImportOptions, Item, Skip, SourceFile, Unit

__all__ = ["Connector", "ImportOptions", "Item", "Skip", "SourceFile", "Unit"]
