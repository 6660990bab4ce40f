"""Streamed queries: typed events in order, and closing the stream cancels the answer."""

from __future__ import annotations

import time

import pytest

import twig


@pytest.fixture(scope="module")
def slow_agent(client, corpus):
    return client.agents.create(name="slow", data_source_ids=[corpus["ds"].id], model="slow")


def test_stream_yields_sources_tokens_done(client, corpus):
    with client.query(agent_id=corpus["agent"].id, query="What is your refund policy?", stream=True) as s:
        events = list(s)
    assert isinstance(events[0], twig.SourcesEvent) and events[0].sources
    assert isinstance(events[-1], twig.DoneEvent)
    tokens = [e for e in events[1:-1]]
    assert tokens and all(isinstance(e, twig.TokenEvent) for e in tokens)
    whole = client.interactions.get(events[-1].metadata.interaction_id)
    assert "".join(t.text for t in tokens) == whole.response
    assert s.response.is_closed


def test_closing_the_stream_cancels_generation(client, chat, slow_agent):
    chat.disconnected.clear()
    completed = chat.completed
    stream = client.query(agent_id=slow_agent.id, query="What is pricing?", stream=True)
    first = next(stream)
    assert isinstance(first, twig.SourcesEvent)
    tok = next(stream)
    assert isinstance(tok, twig.TokenEvent) and tok.text.startswith("w0")
    stream.close()
    assert stream.response.is_closed
    # The server dropped its call to the model, well before the 60 slow tokens were sent.
    assert chat.disconnected.wait(10), "the model call was not cancelled"
    assert chat.completed == completed
    deadline = time.time() + 10
    while True:
        cancelled = [i for i in client.interactions.list(agent_id=slow_agent.id) if i.status == "cancelled"]
        if cancelled or time.time() > deadline:
            break
        time.sleep(0.1)
    assert cancelled, "the interaction was not recorded as cancelled"


def test_breaking_out_of_a_for_loop_closes(client, chat, slow_agent):
    chat.disconnected.clear()
    with client.query(agent_id=slow_agent.id, query="What is pricing?", stream=True) as stream:
        for event in stream:
            if isinstance(event, twig.TokenEvent):
                break
    assert stream.response.is_closed
    assert chat.disconnected.wait(10)


@pytest.mark.anyio
async def test_async_stream_and_cancel(aclient, corpus, chat, slow_agent):
    stream = await aclient.query(agent_id=corpus["agent"].id, query="How long is the warranty?", stream=True)
    kinds = [type(e).__name__ async for e in stream]
    assert kinds[0] == "SourcesEvent" and kinds[-1] == "DoneEvent" and "TokenEvent" in kinds

    chat.disconnected.clear()
    stream = await aclient.query(agent_id=slow_agent.id, query="What is pricing?", stream=True)
    async for event in stream:
        if isinstance(event, twig.TokenEvent):
            break
    await stream.close()
    assert stream.response.is_closed
    assert chat.disconnected.wait(10)


def test_stream_errors_before_the_first_event_raise(client):
    with pytest.raises(twig.NotFoundError):
        client.query(agent_id="agent_doesnotexist", query="hi", stream=True)
