"""`/agents`: create, list, get, update, delete."""

from __future__ import annotations

from typing import List, Optional

from .._base import NOT_GIVEN, strip_not_given
from .._pagination import AsyncPaginator, SyncPage
from .._resource import AsyncAPIResource, SyncAPIResource, seg
from ..types import Agent

__all__ = ["Agents", "AsyncAgents"]


def _body(**kw: object) -> dict:
    return strip_not_given(kw)


class Agents(SyncAPIResource):
    """Agents of the organisation."""

    def list(self, *, limit: Optional[int] = None, offset: Optional[int] = None) -> SyncPage[Agent]:
        """Agents, newest first; iterate for all pages. Read scope."""
        return self._page("/agents", key="agents", item=Agent, params={"limit": limit, "offset": offset})

    def create(
        self,
        *,
        name: str,
        data_source_ids: List[str],
        system_prompt: str = NOT_GIVEN,
        rag_strategy: str = NOT_GIVEN,
        model: str = NOT_GIVEN,
        temperature: float = NOT_GIVEN,
        max_tokens: int = NOT_GIVEN,
        status: str = NOT_GIVEN,
    ) -> Agent:
        """Creates an agent. Write scope."""
        body = _body(
            name=name,
            data_source_ids=data_source_ids,
            system_prompt=system_prompt,
            rag_strategy=rag_strategy,
            model=model,
            temperature=temperature,
            max_tokens=max_tokens,
            status=status,
        )
        return self._client._request("POST", "/agents", json=body, cast=Agent)

    def get(self, agent_id: str) -> Agent:
        """One agent. Read scope."""
        return self._client._request("GET", f"/agents/{seg(agent_id)}", cast=Agent)

    def update(
        self,
        agent_id: str,
        *,
        name: str = NOT_GIVEN,
        data_source_ids: List[str] = NOT_GIVEN,
        system_prompt: str = NOT_GIVEN,
        rag_strategy: str = NOT_GIVEN,
        model: str = NOT_GIVEN,
        temperature: float = NOT_GIVEN,
        max_tokens: int = NOT_GIVEN,
        status: str = NOT_GIVEN,
    ) -> Agent:
        """Changes the given fields. Write scope."""
        body = _body(
            name=name,
            data_source_ids=data_source_ids,
            system_prompt=system_prompt,
            rag_strategy=rag_strategy,
            model=model,
            temperature=temperature,
            max_tokens=max_tokens,
            status=status,
        )
        return self._client._request("PUT", f"/agents/{seg(agent_id)}", json=body, cast=Agent)

    def delete(self, agent_id: str) -> None:
        """Deletes an agent. Write scope."""
        self._client._request("DELETE", f"/agents/{seg(agent_id)}")


class AsyncAgents(AsyncAPIResource):
    """Agents of the organisation."""

    def list(self, *, limit: Optional[int] = None, offset: Optional[int] = None) -> AsyncPaginator[Agent]:
        """Agents, newest first; `async for` walks all pages, `await` gives the first."""
        return self._page("/agents", key="agents", item=Agent, params={"limit": limit, "offset": offset})

    async def create(
        self,
        *,
        name: str,
        data_source_ids: List[str],
        system_prompt: str = NOT_GIVEN,
        rag_strategy: str = NOT_GIVEN,
        model: str = NOT_GIVEN,
        temperature: float = NOT_GIVEN,
        max_tokens: int = NOT_GIVEN,
        status: str = NOT_GIVEN,
    ) -> Agent:
        """Creates an agent. Write scope."""
        body = _body(
            name=name,
            data_source_ids=data_source_ids,
            system_prompt=system_prompt,
            rag_strategy=rag_strategy,
            model=model,
            temperature=temperature,
            max_tokens=max_tokens,
            status=status,
        )
        return await self._client._request("POST", "/agents", json=body, cast=Agent)

    async def get(self, agent_id: str) -> Agent:
        """One agent. Read scope."""
        return await self._client._request("GET", f"/agents/{seg(agent_id)}", cast=Agent)

    async def update(
        self,
        agent_id: str,
        *,
        name: str = NOT_GIVEN,
        data_source_ids: List[str] = NOT_GIVEN,
        system_prompt: str = NOT_GIVEN,
        rag_strategy: str = NOT_GIVEN,
        model: str = NOT_GIVEN,
        temperature: float = NOT_GIVEN,
        max_tokens: int = NOT_GIVEN,
        status: str = NOT_GIVEN,
    ) -> Agent:
        """Changes the given fields. Write scope."""
        body = _body(
            name=name,
            data_source_ids=data_source_ids,
            system_prompt=system_prompt,
            rag_strategy=rag_strategy,
            model=model,
            temperature=temperature,
            max_tokens=max_tokens,
            status=status,
        )
        return await self._client._request("PUT", f"/agents/{seg(agent_id)}", json=body, cast=Agent)

    async def delete(self, agent_id: str) -> None:
        """Deletes an agent. Write scope."""
        await self._client._request("DELETE", f"/agents/{seg(agent_id)}")
