"""The transport shared by `Twig` and `AsyncTwig`: headers, timeouts, and the retry rule."""

from __future__ import annotations

import os
import random
from typing import Any, Dict, Mapping, Optional, Union

import httpx

from ._exceptions import _retry_after
from ._version import __version__

DEFAULT_BASE_URL = "https://api.twig.so"
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_RETRIES = 2
# The reference: back off on 429, 500 and 503; never retry 400, 401, 403 or 404.
RETRY_STATUSES = frozenset({429, 500, 503})
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
# A Retry-After beyond this is not waited for: the error is raised instead.
MAX_RETRY_AFTER = 60.0


class _Omit:
    """Marks an argument that was not given (distinct from an explicit None)."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Any = _Omit()


def strip_not_given(values: Mapping[str, Any]) -> Dict[str, Any]:
    """The arguments that were given, keyed by wire name."""
    return {k: v for k, v in values.items() if not isinstance(v, _Omit)}


def retry_delay(attempt: int, headers: Optional[Mapping[str, str]]) -> Optional[float]:
    """Seconds to wait before retry number `attempt` (0-based); None when not to retry.

    `Retry-After` is honoured as given; otherwise exponential backoff with jitter
    (0.5 s, 1 s, 2 s, ... capped at 8 s, each randomly shortened by up to a quarter).
    """
    if headers is not None:
        after = _retry_after(headers)
        if after is not None:
            return after if after <= MAX_RETRY_AFTER else None
    delay = min(INITIAL_RETRY_DELAY * (2**attempt), MAX_RETRY_DELAY)
    return delay * (1 - 0.25 * random.random())


class BaseClient:
    """Options common to the sync and async clients."""

    def __init__(
        self,
        *,
        api_key: Optional[str],
        base_url: Optional[str],
        timeout: Union[float, httpx.Timeout, None],
        max_retries: int,
        default_headers: Optional[Mapping[str, str]],
    ) -> None:
        if api_key is None:
            api_key = os.environ.get("TWIG_API_KEY")
        if not api_key:
            from ._exceptions import TwigError

            raise TwigError(
                "No API key: pass api_key=... or set the TWIG_API_KEY environment variable."
            )
        if base_url is None:
            base_url = os.environ.get("TWIG_BASE_URL") or DEFAULT_BASE_URL
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self._default_headers = dict(default_headers or {})

    def _headers(self) -> Dict[str, str]:
        h = {
            "Authorization": f"Bearer {self.api_key}",
            "Accept": "application/json",
            "User-Agent": f"twig-sdk-python/{__version__}",
        }
        h.update(self._default_headers)
        return h

    def _url(self, path: str) -> str:
        return f"{self.base_url}/api/v1{path}"

    def _build_request(
        self,
        http: Union[httpx.Client, httpx.AsyncClient],
        method: str,
        path: str,
        *,
        params: Optional[Mapping[str, Any]] = None,
        json: Any = None,
        files: Any = None,
        stream: bool = False,
    ) -> httpx.Request:
        headers = self._headers()
        if stream:
            headers["Accept"] = "text/event-stream"
        query = {k: v for k, v in (params or {}).items() if v is not None and not isinstance(v, _Omit)}
        return http.build_request(
            method,
            self._url(path),
            params=query or None,
            json=json,
            files=files,
            headers=headers,
        )
