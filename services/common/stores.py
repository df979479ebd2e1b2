"""Operator tools act on an existing store only: a missing one is refused, never created empty."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError

from services.common.database import sqlalchemy_engine, sqlite_path_of
from services.common.urls import masked_url


class MissingStore(Exception):
    """The store a setting names does not exist (or lacks its tables); the message names it."""


def require_store(url: str, setting: str, tables: list[str]) -> None:
    """Raise MissingStore unless `url` is a database holding every one of `tables`."""
    where = f"{setting}={masked_url(url)}"
    path = sqlite_path_of(url)
    if path is not None and not Path(path).is_file():
        raise MissingStore(f"no store at {where}: the file does not exist (is {setting} the one "
                           "the services use? `make run` writes it to .run/local.env)")
    missing = _missing_tables(url, tables, where)
    if missing:
        raise MissingStore(f"no store at {where}: it has no table {', '.join(missing)} "
                           f"(is {setting} the one the services use?)")


def _missing_tables(url: str, tables: list[str], where: str) -> list[str]:
    engine = sqlalchemy_engine(url)
    try:
        present = set(inspect(engine).get_table_names())
    except SQLAlchemyError as error:
        raise MissingStore(f"cannot open the store at {where}: "
                           f"{str(error.orig if hasattr(error, 'orig') else error).splitlines()[0]}") from None
    finally:
        engine.dispose()
    return [name for name in tables if name not in present]
