"""``bos db upgrade`` on an empty database: every branch of the migrations reaches its head, and the command says
which revisions the database is at (one per branch)."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory

from bos import create_app, migrate
from bos.cli import main
from tests.conftest import empty_database


def test_db_upgrade_reaches_and_reports_every_branch_head(tmp_path: Path):
    heads = sorted(ScriptDirectory.from_config(migrate.alembic_config()).get_heads())
    assert len(heads) > 1  # domains migrate on parallel branches
    for url in empty_database(tmp_path):
        app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "test-secret"})
        try:
            for _ in range(2):  # the second time there is nothing to do, and it says the same
                result = app.test_cli_runner().invoke(main, ["db", "upgrade"])
                assert result.exit_code == 0, result.output
                assert result.output.strip().splitlines()[-1] == f"database at revisions {', '.join(heads)}"
        finally:
            app.extensions["bos_db"].engine.dispose()
