"""Offset pagination over Twig's `{"<plural>": [...], "total", "limit", "offset"}` lists.

Iterating a page walks every item of every following page; `.data` is this page only.
"""

from __future__ import annotations

from typing import (
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Dict,
    Generator,
    Generic,
    Iterator,
    List,
    Optional,
    Type,
    TypeVar,
)

from pydantic import BaseModel

T = TypeVar("T", bound=BaseModel)

__all__ = ["SyncPage", "AsyncPage", "AsyncPaginator"]


class _PageBase(Generic[T]):
    def __init__(self, *, key: str, item: Type[T], body: Dict[str, Any], params: Dict[str, Any]) -> None:
        self.data: List[T] = [item.model_validate(x) for x in body.get(key) or []]
        self.total: int = int(body.get("total", len(self.data)))
        self.limit: int = int(body.get("limit", len(self.data)))
        self.offset: int = int(body.get("offset", 0))
        self._key, self._item, self._params = key, item, params

    def has_next_page(self) -> bool:
        """Whether rows remain after this page."""
        return bool(self.data) and self.offset + len(self.data) < self.total

    def _next_params(self) -> Dict[str, Any]:
        p = dict(self._params)
        p["offset"] = self.offset + len(self.data)
        p.setdefault("limit", self.limit)
        return p

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._key} offset={self.offset} items={len(self.data)} total={self.total}>"


class SyncPage(_PageBase[T]):
    """One page of a list; iterate it for every item of this and the following pages."""

    def __init__(self, fetch: Callable[[Dict[str, Any]], Dict[str, Any]], **kw: Any) -> None:
        super().__init__(**kw)
        self._fetch = fetch

    def next_page(self) -> Optional["SyncPage[T]"]:
        """The following page, or None after the last."""
        if not self.has_next_page():
            return None
        params = self._next_params()
        return SyncPage(self._fetch, key=self._key, item=self._item, body=self._fetch(params), params=params)

    def iter_pages(self) -> Iterator["SyncPage[T]"]:
        """This page and each following one."""
        page: Optional[SyncPage[T]] = self
        while page is not None:
            yield page
            page = page.next_page()

    def __iter__(self) -> Iterator[T]:  # type: ignore[override]
        for page in self.iter_pages():
            yield from page.data


class AsyncPage(_PageBase[T]):
    """One page of a list; `async for` over it walks this and the following pages."""

    def __init__(self, fetch: Callable[[Dict[str, Any]], Awaitable[Dict[str, Any]]], **kw: Any) -> None:
        super().__init__(**kw)
        self._fetch = fetch

    async def next_page(self) -> Optional["AsyncPage[T]"]:
        """The following page, or None after the last."""
        if not self.has_next_page():
            return None
        params = self._next_params()
        body = await self._fetch(params)
        return AsyncPage(self._fetch, key=self._key, item=self._item, body=body, params=params)

    async def iter_pages(self) -> AsyncIterator["AsyncPage[T]"]:
        """This page and each following one."""
        page: Optional[AsyncPage[T]] = self
        while page is not None:
            yield page
            page = await page.next_page()

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.iter_pages():
            for item in page.data:
                yield item


class AsyncPaginator(Generic[T]):
    """What an async `list()` returns: `await` it for the first page, or `async for` every item."""

    def __init__(
        self,
        fetch: Callable[[Dict[str, Any]], Awaitable[Dict[str, Any]]],
        *,
        key: str,
        item: Type[T],
        params: Dict[str, Any],
    ) -> None:
        self._fetch, self._key, self._item, self._params = fetch, key, item, params

    async def _first(self) -> AsyncPage[T]:
        body = await self._fetch(self._params)
        return AsyncPage(self._fetch, key=self._key, item=self._item, body=body, params=self._params)

    def __await__(self) -> Generator[Any, None, AsyncPage[T]]:
        return self._first().__await__()

    async def __aiter__(self) -> AsyncIterator[T]:
        page = await self._first()
        async for item in page:
            yield item
