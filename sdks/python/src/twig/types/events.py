"""Events of a streamed query (`text/event-stream`): `sources`, `token`s, then `done` or `error`."""

from __future__ import annotations

from typing import Any, List, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict

from ._generated import AnswerMetadata, ErrorBody, Source

__all__ = ["SourcesEvent", "TokenEvent", "DoneEvent", "ErrorEvent", "UnknownEvent", "QueryEvent", "parse_event"]


class SourcesEvent(BaseModel):
    """First event: the chunks the answer is grounded on."""

    event: Literal["sources"] = "sources"
    sources: List[Source]


class TokenEvent(BaseModel):
    """A piece of the answer; concatenate them."""

    event: Literal["token"] = "token"
    text: str


class DoneEvent(BaseModel):
    """Last event of a successful answer: its metadata (interaction id, latency, tokens, cost)."""

    event: Literal["done"] = "done"
    metadata: AnswerMetadata


class ErrorEvent(BaseModel):
    """The answer failed midway; `error` is the documented error body."""

    event: Literal["error"] = "error"
    error: ErrorBody


class UnknownEvent(BaseModel):
    """An event this SDK version does not know (kept, not dropped)."""

    model_config = ConfigDict(extra="allow")
    event: str
    data: Any = None


QueryEvent = Union[SourcesEvent, TokenEvent, DoneEvent, ErrorEvent, UnknownEvent]


def parse_event(name: str, data: Any) -> Optional[QueryEvent]:
    """The typed event for one SSE message."""
    if name == "sources":
        return SourcesEvent(sources=data or [])
    if name == "token":
        return TokenEvent(text=(data or {}).get("text", ""))
    if name == "done":
        return DoneEvent(metadata=data)
    if name == "error":
        return ErrorEvent(error=data)
    return UnknownEvent(event=name, data=data)
