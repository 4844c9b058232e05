"""Prepared statements for code that runs the same ones again and again, where the database offers them."""

import contextlib

from django.db import DEFAULT_DB_ALIAS, connections


def prepared_statements(using: str = DEFAULT_DB_ALIAS) -> contextlib.AbstractContextManager:
    """On our PostgreSQL backend, the ORM's statements run inside are prepared once per session
    (`governance/infra/postgresql/base.py`); on any other database, nothing changes."""
    preparing = getattr(connections[using], "preparing_statements", None)
    return preparing() if preparing is not None else contextlib.nullcontext()
