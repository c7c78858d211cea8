"""Alembic environment of perfbook's store: always run by perfbook on a connection it holds.

perfbook calls Alembic from :mod:`perfbook.store.migrate` with the connection (inside the
transaction that serializes migrations) in ``config.attributes["connection"]``; there is no
alembic.ini and no URL here.
"""

from alembic import context

from perfbook.store.schema import metadata


def run_migrations() -> None:
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if hasattr(context, "config"):  # not when merely imported (e.g. by pytest --doctest-modules)
    run_migrations()
