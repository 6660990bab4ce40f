"""Python SDK of the Twig API: `twig.Twig` (sync) and `twig.AsyncTwig` (async).

    import twig
    client = twig.Twig()  # TWIG_API_KEY, TWIG_BASE_URL
    answer = client.query(agent_id="agent_...", query="What is your refund policy?")
"""

from . import types, webhooks
from ._base import DEFAULT_BASE_URL, NOT_GIVEN
from ._client import AsyncTwig, Twig
from ._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    InternalServerError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    TwigError,
)
from ._pagination import AsyncPage, AsyncPaginator, SyncPage
from ._streaming import AsyncStream, Stream
from ._version import __version__
from .types.events import DoneEvent, ErrorEvent, QueryEvent, SourcesEvent, TokenEvent, UnknownEvent
from .webhooks import WebhookVerificationError

__all__ = [
    "Twig",
    "AsyncTwig",
    "types",
    "webhooks",
    "NOT_GIVEN",
    "DEFAULT_BASE_URL",
    "TwigError",
    "APIError",
    "APIConnectionError",
    "APITimeoutError",
    "InvalidRequestError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "RateLimitError",
    "InternalServerError",
    "ServiceUnavailableError",
    "WebhookVerificationError",
    "SyncPage",
    "AsyncPage",
    "AsyncPaginator",
    "Stream",
    "AsyncStream",
    "QueryEvent",
    "SourcesEvent",
    "TokenEvent",
    "DoneEvent",
    "ErrorEvent",
    "UnknownEvent",
    "__version__",
]
