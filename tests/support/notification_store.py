"""The notification service's store on SQLite or on the test run's PostgreSQL (a fixture's
`request.param`: "sqlite" or "postgresql"), its tables created."""

from __future__ import annotations

from services.common.database import sqlalchemy_engine
from services.notification.store import NotificationStore


def notification_store(request, tmp_path) -> NotificationStore:
    url = f"sqlite:///{tmp_path}/n.sqlite" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    store = NotificationStore(sqlalchemy_engine(url))
    store.create_tables()
    return store
