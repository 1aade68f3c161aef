"""The migrations are the schema: they agree with the models and run both ways."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from app import migrations
from app.db import make_engine
from app.models import Base
from tests.conftest import drop_database, fresh_database_url


def test_models_and_migrations_agree(db):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_migrations_downgrade_to_base_and_up_again(database, tmp_path):
    url = fresh_database_url(database.backend, tmp_path, "roundtrip")
    try:
        migrations.upgrade(url)
        migrations.downgrade(url, "base")
        engine = make_engine(url)
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        engine.dispose()
        migrations.upgrade(url)
        engine = make_engine(url)
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
        assert migrations.current_revision(engine) == migrations.head_revision()
        engine.dispose()
    finally:
        drop_database(url)


def test_migration_files_are_date_stamped():
    from pathlib import Path

    names = [p.name for p in (migrations.SCRIPTS / "versions").glob("*.py")]
    assert names
    for name in names:
        assert Path(name).stem[:8].isdigit(), name
