"""`/kb`: knowledge-base articles; every update is a new version."""

from __future__ import annotations

from typing import List, Optional

from .._base import NOT_GIVEN, strip_not_given
from .._pagination import AsyncPaginator, SyncPage
from .._resource import AsyncAPIResource, SyncAPIResource, seg
from ..types import Article, ArticleVersion

__all__ = ["KnowledgeBase", "AsyncKnowledgeBase"]


def _body(title: str, content: str, tags: List[str], status: str) -> dict:
    return strip_not_given({"title": title, "content": content, "tags": tags, "status": status})


class KnowledgeBase(SyncAPIResource):
    """Articles and their versions."""

    def list(
        self, *, limit: Optional[int] = None, offset: Optional[int] = None, status: Optional[str] = None
    ) -> SyncPage[Article]:
        """Articles (optionally `draft` or `published` only); iterate for all pages. Read scope."""
        params = {"limit": limit, "offset": offset, "status": status}
        return self._page("/kb", key="articles", item=Article, params=params)

    def create(
        self, *, title: str, content: str, tags: List[str] = NOT_GIVEN, status: str = NOT_GIVEN
    ) -> Article:
        """Creates an article (version 1). Write scope."""
        return self._client._request("POST", "/kb", json=_body(title, content, tags, status), cast=Article)

    def get(self, article_id: str) -> Article:
        """One article (its latest version). Read scope."""
        return self._client._request("GET", f"/kb/{seg(article_id)}", cast=Article)

    def update(
        self,
        article_id: str,
        *,
        title: str = NOT_GIVEN,
        content: str = NOT_GIVEN,
        tags: List[str] = NOT_GIVEN,
        status: str = NOT_GIVEN,
    ) -> Article:
        """Changes the given fields, creating a new version. Write scope."""
        body = _body(title, content, tags, status)
        return self._client._request("PUT", f"/kb/{seg(article_id)}", json=body, cast=Article)

    def delete(self, article_id: str) -> None:
        """Deletes an article and its versions. Write scope."""
        self._client._request("DELETE", f"/kb/{seg(article_id)}")

    def versions(
        self, article_id: str, *, limit: Optional[int] = None, offset: Optional[int] = None
    ) -> SyncPage[ArticleVersion]:
        """The article's versions, newest first; iterate for all pages. Read scope."""
        path = f"/kb/{seg(article_id)}/versions"
        return self._page(path, key="versions", item=ArticleVersion, params={"limit": limit, "offset": offset})

    def version(self, article_id: str, version: int) -> ArticleVersion:
        """One version of an article. Read scope."""
        return self._client._request("GET", f"/kb/{seg(article_id)}/versions/{int(version)}", cast=ArticleVersion)


class AsyncKnowledgeBase(AsyncAPIResource):
    """Articles and their versions."""

    def list(
        self, *, limit: Optional[int] = None, offset: Optional[int] = None, status: Optional[str] = None
    ) -> AsyncPaginator[Article]:
        """Articles (optionally `draft` or `published` only); `async for` walks all pages. Read scope."""
        params = {"limit": limit, "offset": offset, "status": status}
        return self._page("/kb", key="articles", item=Article, params=params)

    async def create(
        self, *, title: str, content: str, tags: List[str] = NOT_GIVEN, status: str = NOT_GIVEN
    ) -> Article:
        """Creates an article (version 1). Write scope."""
        return await self._client._request("POST", "/kb", json=_body(title, content, tags, status), cast=Article)

    async def get(self, article_id: str) -> Article:
        """One article (its latest version). Read scope."""
        return await self._client._request("GET", f"/kb/{seg(article_id)}", cast=Article)

    async def update(
        self,
        article_id: str,
        *,
        title: str = NOT_GIVEN,
        content: str = NOT_GIVEN,
        tags: List[str] = NOT_GIVEN,
        status: str = NOT_GIVEN,
    ) -> Article:
        """Changes the given fields, creating a new version. Write scope."""
        body = _body(title, content, tags, status)
        return await self._client._request("PUT", f"/kb/{seg(article_id)}", json=body, cast=Article)

    async def delete(self, article_id: str) -> None:
        """Deletes an article and its versions. Write scope."""
        await self._client._request("DELETE", f"/kb/{seg(article_id)}")

    def versions(
        self, article_id: str, *, limit: Optional[int] = None, offset: Optional[int] = None
    ) -> AsyncPaginator[ArticleVersion]:
        """The article's versions, newest first; `async for` walks all pages. Read scope."""
        path = f"/kb/{seg(article_id)}/versions"
        return self._page(path, key="versions", item=ArticleVersion, params={"limit": limit, "offset": offset})

    async def version(self, article_id: str, version: int) -> ArticleVersion:
        """One version of an article. Read scope."""
        return await self._client._request(
            "GET", f"/kb/{seg(article_id)}/versions/{int(version)}", cast=ArticleVersion
        )
