"""`Twig` and `AsyncTwig`: the transport (auth, retries, timeouts) and the resources on it."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Dict, List, Literal, Mapping, Optional, Type, TypeVar, Union, overload

import httpx
from pydantic import BaseModel

from . import resources
from ._base import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    NOT_GIVEN,
    RETRY_STATUSES,
    BaseClient,
    retry_delay,
    strip_not_given,
)
from ._exceptions import APIConnectionError, APITimeoutError, error_from_response
from ._streaming import AsyncStream, Stream
from .types import Answer, Me, SemanticSearchOutput

M = TypeVar("M", bound=BaseModel)

__all__ = ["Twig", "AsyncTwig"]


def _decode(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def _cast(cast: Optional[Type[M]], response: httpx.Response) -> Any:
    if cast is None or response.status_code == 204:
        return None
    if cast is dict:
        return response.json()
    return cast.model_validate(response.json())


def _query_body(
    agent_id: str, query: str, session_id: Any, temperature: Any, max_tokens: Any, stream: bool
) -> Dict[str, Any]:
    body = {
        "agent_id": agent_id,
        "query": query,
        "session_id": session_id,
        "temperature": temperature,
        "max_tokens": max_tokens,
    }
    out = strip_not_given(body)
    if stream:
        out["stream"] = True
    return out


def _search_body(
    query: str, org_id: str, top_k: Any, similarity_threshold: Any, data_source_ids: Any, mode: Any
) -> Dict[str, Any]:
    return strip_not_given(
        {
            "query": query,
            "org_id": org_id,
            "top_k": top_k,
            "similarity_threshold": similarity_threshold,
            "data_source_ids": data_source_ids,
            "mode": mode,
        }
    )


class Twig(BaseClient):
    """Synchronous client. `api_key` defaults to `TWIG_API_KEY`, `base_url` to `TWIG_BASE_URL`
    (else https://api.twig.so)."""

    def __init__(
        self,
        *,
        api_key: Optional[str] = None,
        base_url: Optional[str] = None,
        timeout: Union[float, httpx.Timeout, None] = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Optional[Mapping[str, str]] = None,
        http_client: Optional[httpx.Client] = None,
    ) -> None:
        super().__init__(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
        )
        self._http = http_client or httpx.Client(timeout=timeout)
        self.agents = resources.Agents(self)
        self.data_sources = resources.DataSources(self)
        self.documents = resources.Documents(self)
        self.interactions = resources.Interactions(self)
        self.analytics = resources.Analytics(self)
        self.users = resources.Users(self)
        self.kb = resources.KnowledgeBase(self)
        self.webhooks = resources.Webhooks(self)
        self.api_keys = resources.ApiKeys(self)

    @overload
    def query(
        self,
        *,
        agent_id: str,
        query: str,
        session_id: str = ...,
        temperature: float = ...,
        max_tokens: int = ...,
        stream: Literal[False] = ...,
    ) -> Answer: ...

    @overload
    def query(
        self,
        *,
        agent_id: str,
        query: str,
        session_id: str = ...,
        temperature: float = ...,
        max_tokens: int = ...,
        stream: Literal[True],
    ) -> Stream: ...

    def query(
        self,
        *,
        agent_id: str,
        query: str,
        session_id: str = NOT_GIVEN,
        temperature: float = NOT_GIVEN,
        max_tokens: int = NOT_GIVEN,
        stream: bool = False,
    ) -> Union[Answer, Stream]:
        """Asks an agent (`POST /query`, Execute scope). With `stream=True`, an iterator of
        `SourcesEvent`, `TokenEvent`s and `DoneEvent` (or `ErrorEvent`); closing it cancels."""
        body = _query_body(agent_id, query, session_id, temperature, max_tokens, stream)
        if stream:
            return self._stream("/query", json=body)
        return self._request("POST", "/query", json=body, cast=Answer)

    def semantic_search(
        self,
        *,
        query: str,
        org_id: str,
        top_k: int = NOT_GIVEN,
        similarity_threshold: float = NOT_GIVEN,
        data_source_ids: List[str] = NOT_GIVEN,
        mode: str = NOT_GIVEN,
    ) -> SemanticSearchOutput:
        """Chunks matching a query, without generation (`POST /semantic-search`, Read scope)."""
        body = _search_body(query, org_id, top_k, similarity_threshold, data_source_ids, mode)
        return self._request("POST", "/semantic-search", json=body, cast=SemanticSearchOutput)

    def me(self) -> Me:
        """The calling key: its organisation, scopes and user (`GET /me`)."""
        return self._request("GET", "/me", cast=Me)

    def close(self) -> None:
        """Closes the connection pool."""
        self._http.close()

    def __enter__(self) -> "Twig":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _send(self, request: httpx.Request, stream: bool) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = self._http.send(request, stream=stream)
            except httpx.TimeoutException as e:
                raise APITimeoutError(request) from e
            except httpx.TransportError as e:
                raise APIConnectionError(str(e) or "Connection error.", request=request) from e
            if response.status_code < 400:
                return response
            if stream:
                response.read()
            body = _decode(response)
            response.close()
            if response.status_code in RETRY_STATUSES and attempt < self.max_retries:
                delay = retry_delay(attempt, response.headers)
                if delay is not None:
                    time.sleep(delay)
                    attempt += 1
                    continue
            raise error_from_response(response.status_code, response.headers, body)

    def _request(
        self,
        method: str,
        path: str,
        *,
        cast: Optional[Type[M]] = None,
        params: Optional[Mapping[str, Any]] = None,
        json: Any = None,
        files: Any = None,
    ) -> Any:
        request = self._build_request(self._http, method, path, params=params, json=json, files=files)
        return _cast(cast, self._send(request, stream=False))

    def _stream(self, path: str, *, json: Any) -> Stream:
        request = self._build_request(self._http, "POST", path, json=json, stream=True)
        return Stream(self._send(request, stream=True))


class AsyncTwig(BaseClient):
    """Asynchronous client: the same resources, each method awaitable."""

    def __init__(
        self,
        *,
        api_key: Optional[str] = None,
        base_url: Optional[str] = None,
        timeout: Union[float, httpx.Timeout, None] = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Optional[Mapping[str, str]] = None,
        http_client: Optional[httpx.AsyncClient] = None,
    ) -> None:
        super().__init__(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
        )
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self.agents = resources.AsyncAgents(self)
        self.data_sources = resources.AsyncDataSources(self)
        self.documents = resources.AsyncDocuments(self)
        self.interactions = resources.AsyncInteractions(self)
        self.analytics = resources.AsyncAnalytics(self)
        self.users = resources.AsyncUsers(self)
        self.kb = resources.AsyncKnowledgeBase(self)
        self.webhooks = resources.AsyncWebhooks(self)
        self.api_keys = resources.AsyncApiKeys(self)

    @overload
    async def query(
        self,
        *,
        agent_id: str,
        query: str,
        session_id: str = ...,
        temperature: float = ...,
        max_tokens: int = ...,
        stream: Literal[False] = ...,
    ) -> Answer: ...

    @overload
    async def query(
        self,
        *,
        agent_id: str,
        query: str,
        session_id: str = ...,
        temperature: float = ...,
        max_tokens: int = ...,
        stream: Literal[True],
    ) -> AsyncStream: ...

    async def query(
        self,
        *,
        agent_id: str,
        query: str,
        session_id: str = NOT_GIVEN,
        temperature: float = NOT_GIVEN,
        max_tokens: int = NOT_GIVEN,
        stream: bool = False,
    ) -> Union[Answer, AsyncStream]:
        """Asks an agent (`POST /query`, Execute scope). With `stream=True`, an async iterator of
        `SourcesEvent`, `TokenEvent`s and `DoneEvent` (or `ErrorEvent`); closing it cancels."""
        body = _query_body(agent_id, query, session_id, temperature, max_tokens, stream)
        if stream:
            return await self._stream("/query", json=body)
        return await self._request("POST", "/query", json=body, cast=Answer)

    async def semantic_search(
        self,
        *,
        query: str,
        org_id: str,
        top_k: int = NOT_GIVEN,
        similarity_threshold: float = NOT_GIVEN,
        data_source_ids: List[str] = NOT_GIVEN,
        mode: str = NOT_GIVEN,
    ) -> SemanticSearchOutput:
        """Chunks matching a query, without generation (`POST /semantic-search`, Read scope)."""
        body = _search_body(query, org_id, top_k, similarity_threshold, data_source_ids, mode)
        return await self._request("POST", "/semantic-search", json=body, cast=SemanticSearchOutput)

    async def me(self) -> Me:
        """The calling key: its organisation, scopes and user (`GET /me`)."""
        return await self._request("GET", "/me", cast=Me)

    async def close(self) -> None:
        """Closes the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> "AsyncTwig":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def _send(self, request: httpx.Request, stream: bool) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = await self._http.send(request, stream=stream)
            except httpx.TimeoutException as e:
                raise APITimeoutError(request) from e
            except httpx.TransportError as e:
                raise APIConnectionError(str(e) or "Connection error.", request=request) from e
            if response.status_code < 400:
                return response
            if stream:
                await response.aread()
            body = _decode(response)
            await response.aclose()
            if response.status_code in RETRY_STATUSES and attempt < self.max_retries:
                delay = retry_delay(attempt, response.headers)
                if delay is not None:
                    await asyncio.sleep(delay)
                    attempt += 1
                    continue
            raise error_from_response(response.status_code, response.headers, body)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        cast: Optional[Type[M]] = None,
        params: Optional[Mapping[str, Any]] = None,
        json: Any = None,
        files: Any = None,
    ) -> Any:
        request = self._build_request(self._http, method, path, params=params, json=json, files=files)
        return _cast(cast, await self._send(request, stream=False))

    async def _stream(self, path: str, *, json: Any) -> AsyncStream:
        request = self._build_request(self._http, "POST", path, json=json, stream=True)
        return AsyncStream(await self._send(request, stream=True))
