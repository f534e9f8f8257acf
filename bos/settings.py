"""Every BOS setting, declared once: name, type, default and a one-line description.

Settings come from ``BOS_*`` environment variables; ``create_app(config=...)`` may override them (tests do).
The README's configuration table is generated from ``SETTINGS`` (``bos settings-table``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Labelled as demo so nobody mistakes demo data for a registered OCDS publisher prefix.
DEMO_OCID_PREFIX = "ocds-demo00"
INSECURE_SECRET_KEY = "bos-insecure-development-key"  # noqa: S105 - refused in production, see check_production


def _bool(raw: str) -> bool:
    return raw.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Option:
    name: str
    env: str
    default: Any
    doc: str
    parse: Any = str


SETTINGS: tuple[Option, ...] = (
    Option("ENV", "BOS_ENV", "development", "`development` or `production`; production refuses insecure defaults."),
    Option(
        "DATABASE_URL",
        "BOS_DATABASE_URL",
        None,
        "SQLAlchemy URL. Default: SQLite file `bos.sqlite3` in the instance folder. Production: "
        "`postgresql+psycopg://user@host/db`.",
    ),
    Option(
        "SECRET_KEY", "BOS_SECRET_KEY", INSECURE_SECRET_KEY, "Signs sessions and CSRF tokens. Required in production."
    ),
    Option(
        "OCID_PREFIX",
        "BOS_OCID_PREFIX",
        DEMO_OCID_PREFIX,
        "OCDS ocid prefix registered with the Open Contracting Partnership (`ocds-xxxxxx`). The default is a demo prefix.",
    ),
    Option(
        "PUBLISHER_NAME",
        "BOS_PUBLISHER_NAME",
        "Pemerintah Kabupaten Bojonegoro (demo)",
        "OCDS package publisher name.",
    ),
    Option("PUBLISHER_SCHEME", "BOS_PUBLISHER_SCHEME", "ID-KEMENDAGRI", "Identifier scheme of the publisher's uid."),
    Option(
        "PUBLISHER_UID",
        "BOS_PUBLISHER_UID",
        "35.22",
        "Publisher identifier (Kemendagri region code of the kabupaten).",
    ),
    Option("PUBLISHER_URI", "BOS_PUBLISHER_URI", "", "Publisher's web address, if any."),
    Option(
        "PUBLIC_BASE_URL",
        "BOS_PUBLIC_BASE_URL",
        "http://127.0.0.1:5000",
        "Absolute base URL used in OCDS `uri` and `links.next` (harvesters need a host with a dot or an IP).",
    ),
    Option(
        "LICENSE_URL",
        "BOS_LICENSE_URL",
        "https://creativecommons.org/licenses/by/4.0/",
        "Licence of the published data.",
    ),
    Option(
        "PUBLICATION_POLICY_URL",
        "BOS_PUBLICATION_POLICY_URL",
        "http://127.0.0.1:5000/publication-policy",
        "Publication policy URL.",
    ),
    Option(
        "OCDS_SCHEMA_DIR",
        "BOS_OCDS_SCHEMA_DIR",
        None,
        "Directory with the official OCDS 1.1 schema files and codelists. Unset: fetched from the official URL and cached.",
    ),
    Option(
        "OCDS_EXTENSIONS_DIR",
        "BOS_OCDS_EXTENSIONS_DIR",
        None,
        "Directory with local copies of OCDS extensions (`<repo>/<version>/`). Unset: fetched and cached.",
    ),
    Option(
        "CACHE_DIR",
        "BOS_CACHE_DIR",
        None,
        "Where fetched schemas and built files are cached. Default: instance/cache.",
    ),
    Option(
        "FEED_WATERMARK_SECONDS",
        "BOS_FEED_WATERMARK_SECONDS",
        2,
        "Forward feed pages hide releases younger than this, so a late-committing write is never skipped.",
        int,
    ),
    Option(
        "UPLOAD_DIR",
        "BOS_UPLOAD_DIR",
        None,
        "Where uploaded document files are kept, named by their SHA-256. Default: instance/uploads.",
    ),
    Option(
        "UPLOAD_MAX_BYTES",
        "BOS_UPLOAD_MAX_BYTES",
        20 * 1024 * 1024,
        "Largest document file an officer may upload, in bytes (PDF, office documents, images).",
        int,
    ),
    Option("LOCALE", "BOS_LOCALE", "id", "Default interface language (`id` or `en`)."),
    Option("TIMEZONE", "BOS_TIMEZONE", "Asia/Jakarta", "Display time zone; everything is stored in UTC."),
    Option("CURRENCY", "BOS_CURRENCY", "IDR", "Default ISO 4217 currency."),
    Option("SCHEDULER", "BOS_SCHEDULER", False, "Run scheduler jobs inside the web process (demo only).", _bool),
    Option("SMTP_HOST", "BOS_SMTP_HOST", "127.0.0.1", "SMTP server host."),
    Option("SMTP_PORT", "BOS_SMTP_PORT", 25, "SMTP server port.", int),
    Option("MAIL_FROM", "BOS_MAIL_FROM", "bos@localhost", "Sender address of alert mail."),
    Option("SMTP_USER", "BOS_SMTP_USER", None, "SMTP login user; unset means no login."),
    Option("SMTP_PASSWORD", "BOS_SMTP_PASSWORD", "", "SMTP login password."),
    Option("SMTP_STARTTLS", "BOS_SMTP_STARTTLS", False, "Upgrade the SMTP connection with STARTTLS.", _bool),
    Option("SMTP_TIMEOUT", "BOS_SMTP_TIMEOUT", 30, "SMTP timeout in seconds.", int),
    Option("WEBHOOK_TIMEOUT", "BOS_WEBHOOK_TIMEOUT", 10, "Webhook POST timeout in seconds.", int),
    Option(
        "WEBHOOK_ALLOW_PRIVATE",
        "BOS_WEBHOOK_ALLOW_PRIVATE",
        False,
        "Allow webhooks to private or loopback addresses (intranets, tests). Off: refused at save and send.",
        _bool,
    ),
    Option(
        "RED_FLAGS_WORKERS",
        "BOS_RED_FLAGS_WORKERS",
        2,
        "Worker processes evaluating indicators in the full red-flag run (0: in the runner's own process).",
        int,
    ),
    Option("NOTIFY_MAX_ATTEMPTS", "BOS_NOTIFY_MAX_ATTEMPTS", 8, "Delivery attempts before a message is failed.", int),
    Option("NOTIFY_RETRY_SECONDS", "BOS_NOTIFY_RETRY_SECONDS", 60, "First retry delay; doubled each time.", int),
    Option("NOTIFY_RETRY_MAX_SECONDS", "BOS_NOTIFY_RETRY_MAX_SECONDS", 21600, "Cap on the retry delay.", int),
    Option(
        "NOTIFY_GAP_SECONDS",
        "BOS_NOTIFY_GAP_SECONDS",
        600,
        "How long event ids skipped by a concurrent writer are rechecked before being given up.",
        int,
    ),
)


def from_env(environ: os._Environ[str] | dict[str, str] | None = None) -> dict[str, Any]:
    """Read every declared option from the environment, falling back to its default."""
    env = os.environ if environ is None else environ
    result: dict[str, Any] = {}
    for option in SETTINGS:
        raw = env.get(option.env)
        result[option.name] = option.default if raw in (None, "") else option.parse(raw)
    return result


class InsecureConfigurationError(RuntimeError):
    """Raised when production mode would start with an insecure default."""


def check_production(config: dict[str, Any]) -> None:
    """Refuse to start in production with the development secret or the demo ocid prefix."""
    if config.get("ENV") != "production":
        return
    if not config.get("SECRET_KEY") or config["SECRET_KEY"] == INSECURE_SECRET_KEY:
        raise InsecureConfigurationError("BOS_SECRET_KEY must be set to a random secret in production.")
    if config.get("OCID_PREFIX") == DEMO_OCID_PREFIX:
        raise InsecureConfigurationError("BOS_OCID_PREFIX must be your registered prefix in production.")


def settings_table() -> str:
    """Markdown table of every option, for the README."""
    lines = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for option in SETTINGS:
        default = "" if option.default is None else f"`{option.default}`"
        lines.append(f"| `{option.env}` | {default} | {option.doc} |")
    return "\n".join(lines)


def default_paths(instance_path: str) -> dict[str, str]:
    base = Path(instance_path)
    return {
        "DATABASE_URL": f"sqlite:///{base / 'bos.sqlite3'}",
        "CACHE_DIR": str(base / "cache"),
        "UPLOAD_DIR": str(base / "uploads"),
    }
