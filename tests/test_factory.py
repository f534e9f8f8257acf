import pytest

from bos import create_app
from bos.settings import InsecureConfigurationError, settings_table


def test_config_overrides_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("BOS_OCID_PREFIX", "ocds-abc123")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}", "CACHE_DIR": str(tmp_path)})
    assert app.config["OCID_PREFIX"] == "ocds-abc123"
    assert app.config["LOCALE"] == "id"
    assert app.config["TIMEZONE"] == "Asia/Jakarta"
    app = create_app({"OCID_PREFIX": "ocds-zzz999", "DATABASE_URL": "sqlite://", "CACHE_DIR": str(tmp_path)})
    assert app.config["OCID_PREFIX"] == "ocds-zzz999"


def test_default_database_is_sqlite_in_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("BOS_DATABASE_URL", raising=False)
    app = create_app({"CACHE_DIR": str(tmp_path)})
    assert app.config["DATABASE_URL"].startswith("sqlite:///")
    assert app.config["DATABASE_URL"].endswith("bos.sqlite3")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({}, "BOS_SECRET_KEY"),
        ({"SECRET_KEY": "s3cret-production-key"}, "BOS_OCID_PREFIX"),
    ],
)
def test_production_refuses_insecure_defaults(tmp_path, overrides, message):
    config = {"ENV": "production", "DATABASE_URL": "sqlite://", "CACHE_DIR": str(tmp_path), **overrides}
    with pytest.raises(InsecureConfigurationError, match=message):
        create_app(config)


def test_production_starts_with_real_settings(tmp_path):
    app = create_app(
        {
            "ENV": "production",
            "SECRET_KEY": "s3cret-production-key",
            "OCID_PREFIX": "ocds-abc123",
            "DATABASE_URL": "sqlite://",
            "CACHE_DIR": str(tmp_path),
        }
    )
    assert app.config["ENV"] == "production"


def test_settings_table_lists_every_variable():
    table = settings_table()
    for variable in ("BOS_DATABASE_URL", "BOS_OCID_PREFIX", "BOS_SECRET_KEY", "BOS_OCDS_SCHEMA_DIR", "BOS_TIMEZONE"):
        assert f"`{variable}`" in table
