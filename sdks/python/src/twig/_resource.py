"""Base classes of the resources: a handle on the client's transport."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Type, TypeVar
from urllib.parse import quote

from pydantic import BaseModel

from ._pagination import AsyncPaginator, SyncPage

if TYPE_CHECKING:
    from ._client import AsyncTwig, Twig

T = TypeVar("T", bound=BaseModel)


def seg(value: str) -> str:
    """A path segment, escaped."""
    return quote(str(value), safe="")


class SyncAPIResource:
    """A resource of the synchronous client."""

    def __init__(self, client: "Twig") -> None:
        self._client = client

    def _page(self, path: str, *, key: str, item: Type[T], params: Dict[str, Any]) -> SyncPage[T]:
        def fetch(p: Dict[str, Any]) -> Dict[str, Any]:
            return self._client._request("GET", path, params=p, cast=dict)  # type: ignore[type-var]

        params = {k: v for k, v in params.items() if v is not None}
        return SyncPage(fetch, key=key, item=item, body=fetch(params), params=params)


class AsyncAPIResource:
    """A resource of the asynchronous client."""

    def __init__(self, client: "AsyncTwig") -> None:
        self._client = client

    def _page(self, path: str, *, key: str, item: Type[T], params: Dict[str, Any]) -> AsyncPaginator[T]:
        async def fetch(p: Dict[str, Any]) -> Dict[str, Any]:
            return await self._client._request("GET", path, params=p, cast=dict)  # type: ignore[type-var]

        params = {k: v for k, v in params.items() if v is not None}
        return AsyncPaginator(fetch, key=key, item=item, params=params)
