"""HTTP plumbing shared by the schema loader and the reader: one place that decides timeouts and retries."""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

DEFAULT_TIMEOUT: float = 30.0
DEFAULT_RETRIES: int = 3
DEFAULT_BACKOFF: float = 0.5
USER_AGENT = "BOS-OCDS/0.1 (+procurement transparency)"

# Publishers' APIs answer transient overload with these; anything else (404, 401, …) will not get better by retrying.
RETRY_STATUSES = (429, 500, 502, 503, 504)


def make_session(retries: int = DEFAULT_RETRIES, backoff: float = DEFAULT_BACKOFF) -> requests.Session:
    """Return a session that retries idempotent GETs with exponential backoff.

    urllib3's ``Retry`` does the waiting (and honours ``Retry-After``), so callers never loop by hand.
    ``raise_on_status=False`` returns the last response once retries are exhausted, so the caller can report the
    status code as data instead of catching a ``MaxRetryError``.
    """
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET", "HEAD"}),
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    adapter = HTTPAdapter(max_retries=retry)
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session
