"""BOS: open procurement transparency service. ``create_app`` is the only way in."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask, request

from bos import db, settings
from bos.i18n import compile_translations, remember_language, select_locale

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app from ``BOS_*`` settings, with ``config`` overriding them (tests, CLI)."""
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
        instance_relative_config=True,
    )
    values = settings.from_env()
    values.update({k: v for k, v in settings.default_paths(app.instance_path).items() if values.get(k) is None})
    values.update(config or {})
    settings.check_production(values)
    app.config.update(values)
    app.config.update(
        API_TITLE="BOS API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_REDOC_PATH="docs",
        OPENAPI_REDOC_URL="https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js",
        BABEL_DEFAULT_LOCALE=app.config["LOCALE"],
        BABEL_DEFAULT_TIMEZONE=app.config["TIMEZONE"],
        JSON_SORT_KEYS=False,
    )
    if app.config["DATABASE_URL"].startswith("sqlite:///"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    db.init_app(app)
    _init_extensions(app)
    _register_blueprints(app)

    from bos.exceptions import register_error_handlers  # noqa: PLC0415 - after blueprints, so ours win

    register_error_handlers(app)
    return app


def _init_extensions(app: Flask) -> None:
    from bos.accounts.auth import TokenSecurityPlugin, init_auth  # noqa: PLC0415
    from bos.extensions import api, babel, csrf  # noqa: PLC0415

    translations = compile_translations(Path(app.config["CACHE_DIR"]) / "translations")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(translations)
    babel.init_app(app, locale_selector=select_locale)
    app.after_request(remember_language)
    # The bearer-token scheme, and ``security`` on every operation whose handler requires a token.
    api.init_app(app, spec_kwargs={"extra_plugins": [TokenSecurityPlugin(app)]})
    csrf.init_app(app)  # every HTML form; the token-authenticated API blueprints are exempted where registered
    init_auth(app)

    @app.context_processor
    def _template_globals() -> dict[str, Any]:
        from bos.i18n import current_language, format_idr, local_time, stage_labels  # noqa: PLC0415

        return {
            "current_language": current_language,
            "format_money": format_idr,
            "local_time": local_time,
            "request_args": request.args,
            "stage_labels": stage_labels,
        }


# Each domain's HTML/plain blueprints (module attribute ``bp``) and flask-smorest API blueprints (``blp``). A module
# that does not exist yet is skipped by name only; an error inside an existing module still fails loudly.
DOMAIN_MODULES = (
    "bos.tenders.views",
    "bos.tenders.api",
    "bos.contracts.views",
    "bos.contracts.api",
    "bos.accounts.views",
    "bos.accounts.api",
    "bos.ocds.api",
    "bos.ocds.views",
    "bos.red_flags.views",
    "bos.red_flags.api",
    "bos.notifications.views",
    "bos.notifications.api",
    "bos.reports.views",
    "bos.reports.api",
)


def existing_modules(names: tuple[str, ...]) -> list[Any]:
    import importlib  # noqa: PLC0415
    import importlib.util  # noqa: PLC0415

    def exists(name: str) -> bool:
        parent = name.rpartition(".")[0]
        return importlib.util.find_spec(parent) is not None and importlib.util.find_spec(name) is not None

    return [importlib.import_module(name) for name in names if exists(name)]


def _register_blueprints(app: Flask) -> None:
    from bos.extensions import api  # noqa: PLC0415

    for module in existing_modules(DOMAIN_MODULES):
        if hasattr(module, "bp"):
            app.register_blueprint(module.bp)
        if hasattr(module, "blp"):
            api.register_blueprint(module.blp)
