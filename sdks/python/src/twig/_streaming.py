"""Streamed queries: server-sent events decoded into typed events.

Closing a stream (``close()``, leaving its ``with`` block, breaking out of a ``for`` over it,
or dropping it) closes the HTTP connection, which cancels the answer on the server.
"""

from __future__ import annotations

import json
from typing import Any, AsyncGenerator, AsyncIterator, Generator, Iterator, List, Optional

import httpx

from .types.events import QueryEvent, parse_event

__all__ = ["Stream", "AsyncStream"]


class _SSEDecoder:
    """Incremental `text/event-stream` decoder (the WHATWG rules Twig's server uses)."""

    def __init__(self) -> None:
        self._event: Optional[str] = None
        self._data: List[str] = []

    def feed(self, line: str) -> Optional[QueryEvent]:
        if line == "":
            if not self._data and self._event is None:
                return None
            name, data = self._event or "message", "\n".join(self._data)
            self._event, self._data = None, []
            return parse_event(name, json.loads(data) if data else None)
        if line.startswith(":"):
            return None  # keep-alive comment
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        return None


class Stream:
    """Iterator of `SourcesEvent`, `TokenEvent`, then `DoneEvent` (or `ErrorEvent`)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._iter = self._events()

    def _events(self) -> Generator[QueryEvent, None, None]:
        decoder = _SSEDecoder()
        try:
            for line in self.response.iter_lines():
                event = decoder.feed(line)
                if event is not None:
                    yield event
            last = decoder.feed("")
            if last is not None:
                yield last
        finally:
            self.response.close()

    def __iter__(self) -> Iterator[QueryEvent]:
        return self

    def __next__(self) -> QueryEvent:
        return next(self._iter)

    def text(self) -> str:
        """Reads the rest of the stream and returns the concatenated tokens."""
        return "".join(e.text for e in self if e.event == "token")  # type: ignore[union-attr]

    def close(self) -> None:
        """Closes the connection; the server stops generating."""
        self._iter.close()
        self.response.close()

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


class AsyncStream:
    """Async iterator of `SourcesEvent`, `TokenEvent`, then `DoneEvent` (or `ErrorEvent`)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._iter = self._events()

    async def _events(self) -> AsyncGenerator[QueryEvent, None]:
        decoder = _SSEDecoder()
        try:
            async for line in self.response.aiter_lines():
                event = decoder.feed(line)
                if event is not None:
                    yield event
            last = decoder.feed("")
            if last is not None:
                yield last
        finally:
            await self.response.aclose()

    def __aiter__(self) -> AsyncIterator[QueryEvent]:
        return self

    async def __anext__(self) -> QueryEvent:
        return await self._iter.__anext__()

    async def text(self) -> str:
        """Reads the rest of the stream and returns the concatenated tokens."""
        return "".join([e.text async for e in self if e.event == "token"])  # type: ignore[union-attr]

    async def close(self) -> None:
        """Closes the connection; the server stops generating."""
        await self._iter.aclose()
        await self.response.aclose()

    async def __aenter__(self) -> "AsyncStream":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
