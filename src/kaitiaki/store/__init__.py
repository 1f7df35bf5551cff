"""The store: SQLAlchemy models, engines and sessions. SQLite by default, PostgreSQL for a team."""

from kaitiaki.store.db import DEFAULT_URL, Store, database_url, open_store

__all__ = ["DEFAULT_URL", "Store", "database_url", "open_store"]
