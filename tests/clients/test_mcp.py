"""The official `mcp` Python SDK against Twig's MCP server over streamable HTTP.

Run twice: with the initialize handshake (`mode="legacy"`: protocol 2025-11-25, a session id
header, the GET stream) and with the SDK's default negotiation (`auto`: discovery, 2026-07-28).
"""

import asyncio
import json
import os

from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

URL = os.environ["TWIG_BASE"] + "/mcp"
AGENT = os.environ["TWIG_AGENT"]


def connect(mode, key=None, agent=AGENT):
    headers = {}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if agent:
        headers["X-Twig-Agent-Id"] = agent
    http = create_mcp_http_client(headers=headers)
    return Client(streamable_http_client(URL, http_client=http), mode=mode)


def error_text(result):
    assert result.is_error, result
    return " ".join(c.text for c in result.content if getattr(c, "text", None))


async def run(mode):
    async with connect(mode, os.environ["TWIG_KEY"]) as c:
        if mode == "legacy":
            assert c.protocol_version == "2025-11-25", c.protocol_version
        tools = {t.name: t for t in (await c.list_tools()).tools}
        assert set(tools) == {"check_mcp_server_health", "search_knowledge", "ask_a_question"}, tools
        assert tools["search_knowledge"].input_schema["required"] == ["query"], tools["search_knowledge"]
        assert "top_k" in tools["search_knowledge"].input_schema["properties"]
        assert tools["ask_a_question"].output_schema["properties"]["session_id"], tools["ask_a_question"]

        health = await c.call_tool("check_mcp_server_health", {})
        assert not health.is_error, health
        assert health.structured_content["status"] == "ok", health.structured_content
        assert health.structured_content["version"]

        found = await c.call_tool("search_knowledge", {"query": "Twig Phone warranty", "top_k": 3})
        assert not found.is_error, found
        results = found.structured_content["results"]
        assert results and results[0]["title"] and "warranty" in results[0]["text"], results
        assert 0 <= results[0]["score"] <= 1

        asked = await c.call_tool("ask_a_question", {"question": "How long is the Twig Phone warranty?"})
        assert not asked.is_error, asked
        a = asked.structured_content
        assert "two-year warranty" in a["answer"], a
        assert a["sources"] and a["interaction_id"].startswith("int_"), a
        follow = await c.call_tool(
            "ask_a_question", {"question": "And the battery?", "session_id": a["session_id"]}
        )
        assert not follow.is_error, follow
        assert follow.structured_content["session_id"] == a["session_id"]

        resources = (await c.list_resources()).resources
        assert [r.uri for r in resources] == [f"twig://{AGENT}"], resources
        templates = (await c.list_resource_templates()).resource_templates
        assert templates[0].uri_template == "twig://{agentId}"
        doc = await c.read_resource(f"twig://{AGENT}")
        agent = json.loads(doc.contents[0].text)
        assert agent["name"] == "Handbook" and agent["data_sources"][0]["name"] == "handbook", agent

        prompts = {p.name: p for p in (await c.list_prompts()).prompts}
        assert {a.name for a in prompts["WhatIsTwig"].arguments} == {"detail", "name"}
        got = await c.get_prompt("WhatIsTwig", {"detail": "features", "name": "Ada"})
        texts = [m.content.text for m in got.messages]
        assert "Ada" in texts[0] and "hybrid search" in texts[1], texts
        try:
            await c.get_prompt("WhatIsTwig", {"detail": "gossip"})
            raise AssertionError("an unknown detail was accepted")
        except MCPError:
            pass

    # The health check needs no key; everything else does.
    async with connect(mode, key=None) as c:
        assert not (await c.call_tool("check_mcp_server_health", {})).is_error
        msg = error_text(await c.call_tool("ask_a_question", {"question": "hi"}))
        assert "unauthorized" in msg, msg
        msg = error_text(await c.call_tool("search_knowledge", {"query": "warranty"}))
        assert "unauthorized" in msg, msg

    # A key without Execute may search but not ask; without Read it may ask but not search.
    async with connect(mode, os.environ["TWIG_READ_KEY"]) as c:
        assert not (await c.call_tool("search_knowledge", {"query": "warranty"})).is_error
        msg = error_text(await c.call_tool("ask_a_question", {"question": "hi"}))
        assert "forbidden" in msg and "execute" in msg.lower(), msg
    async with connect(mode, os.environ["TWIG_EXECUTE_KEY"]) as c:
        msg = error_text(await c.call_tool("search_knowledge", {"query": "warranty"}))
        assert "forbidden" in msg, msg

    # An agent of another organisation is unknown; so is a missing agent header.
    async with connect(mode, os.environ["TWIG_KEY"], agent=os.environ["TWIG_OTHER_AGENT"]) as c:
        msg = error_text(await c.call_tool("ask_a_question", {"question": "hi"}))
        assert "not_found" in msg, msg
        try:
            await c.read_resource(f"twig://{os.environ['TWIG_OTHER_AGENT']}")
            raise AssertionError("another org's agent was readable")
        except MCPError:
            pass
    async with connect(mode, os.environ["TWIG_KEY"], agent=None) as c:
        msg = error_text(await c.call_tool("search_knowledge", {"query": "warranty"}))
        assert "x-twig-agent-id" in msg.lower(), msg
    print(f"mcp ({mode}): tools, resource, prompt, auth errors ok")


async def main():
    await run("legacy")
    await run("auto")


asyncio.run(main())
