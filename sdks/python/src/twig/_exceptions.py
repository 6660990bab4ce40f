"""One exception class per documented error code, all carrying the error body's fields."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Type

import httpx

__all__ = [
    "TwigError",
    "APIConnectionError",
    "APITimeoutError",
    "APIError",
    "InvalidRequestError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "RateLimitError",
    "InternalServerError",
    "ServiceUnavailableError",
]


class TwigError(Exception):
    """Base of every error this SDK raises."""


class APIConnectionError(TwigError):
    """The server could not be reached (or the connection broke)."""

    def __init__(self, message: str = "Connection error.", *, request: Optional[httpx.Request] = None) -> None:
        super().__init__(message)
        self.request = request


class APITimeoutError(APIConnectionError):
    """The request took longer than `timeout`."""

    def __init__(self, request: Optional[httpx.Request] = None) -> None:
        super().__init__("Request timed out.", request=request)


class APIError(TwigError):
    """An error answer of the API: `{"error": {code, message, details}, "request_id"}`."""

    status: int
    code: str
    message: str
    details: Dict[str, Any]
    request_id: Optional[str]

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str,
        details: Optional[Dict[str, Any]] = None,
        request_id: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        body: Any = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}" + (f" (request {request_id})" if request_id else ""))
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.request_id = request_id
        self.headers: Mapping[str, str] = headers or {}
        self.body = body


class InvalidRequestError(APIError):
    """400 `invalid_request`: a missing or malformed field."""


class AuthenticationError(APIError):
    """401 `unauthorized`: the API key is missing, unknown or revoked."""


class PermissionDeniedError(APIError):
    """403 `forbidden`: the key lacks the scope (or role) the operation needs."""


class NotFoundError(APIError):
    """404 `not_found`: no such resource (in this organisation) or route."""


class RateLimitError(APIError):
    """429 `rate_limit_exceeded`; `retry_after` is the server's `Retry-After` in seconds."""

    @property
    def retry_after(self) -> Optional[float]:
        """Seconds the server asked to wait, when it said."""
        return _retry_after(self.headers)


class InternalServerError(APIError):
    """500 `internal_error`."""


class ServiceUnavailableError(APIError):
    """503 `service_unavailable`: maintenance or overload."""


_BY_CODE: Dict[str, Type[APIError]] = {
    "invalid_request": InvalidRequestError,
    "unauthorized": AuthenticationError,
    "forbidden": PermissionDeniedError,
    "not_found": NotFoundError,
    "rate_limit_exceeded": RateLimitError,
    "internal_error": InternalServerError,
    "service_unavailable": ServiceUnavailableError,
}

_BY_STATUS: Dict[int, Type[APIError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
    500: InternalServerError,
    503: ServiceUnavailableError,
}


def _retry_after(headers: Mapping[str, str]) -> Optional[float]:
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        # An HTTP date is allowed too.
        from email.utils import parsedate_to_datetime
        import datetime as _dt

        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - _dt.datetime.now(_dt.timezone.utc)).total_seconds())


def error_from_response(status: int, headers: Mapping[str, str], body: Any) -> APIError:
    """The exception for an error answer: by documented code, else by status."""
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        code = str(err.get("code") or "")
        message = str(err.get("message") or "")
        details = err.get("details") if isinstance(err.get("details"), dict) else {}
        request_id = body.get("request_id") or headers.get("x-request-id")
    else:
        code = ""
        message = body if isinstance(body, str) and body else f"HTTP {status}"
        details = {}
        request_id = headers.get("x-request-id")
    cls = _BY_CODE.get(code) or _BY_STATUS.get(status) or APIError
    return cls(
        message,
        status=status,
        code=code or f"http_{status}",
        details=details,
        request_id=request_id,
        headers=headers,
        body=body,
    )
