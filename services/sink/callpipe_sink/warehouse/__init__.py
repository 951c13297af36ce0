"""ClickHouse access for the sink and the insights API: client factory, error translation, migrations."""

from callpipe_sink.warehouse.client import SchemaMissingError, Warehouse, open_warehouse, translate_error
from callpipe_sink.warehouse.migrations import MIGRATIONS_DIR, Migration, apply_migrations, load_migrations

__all__ = [
    "MIGRATIONS_DIR",
    "Migration",
    "SchemaMissingError",
    "Warehouse",
    "apply_migrations",
    "load_migrations",
    "open_warehouse",
    "translate_error",
]
