"""Fixtures: one real `twig serve` for the session, with a slow loopback chat model and a
webhook receiver; a small corpus uploaded through the SDK itself."""

from __future__ import annotations

import time
from typing import Iterator

import pytest

import twig

from ._servers import Receiver, SlowChat, TwigServer

DOCS = {
    "refunds.md": b"# Refund policy\n\nProducts can be returned within 30 days of purchase for a full refund. "
    b"Refunds are paid to the original card within five business days.\n",
    "pricing.md": b"# Pricing\n\nPricing starts at 99 dollars per month for the team plan. "
    b"The enterprise plan is priced per seat.\n",
    "warranty.txt": b"The Model Y phone comes with a two-year warranty that covers manufacturing defects.\n",
}


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def chat() -> Iterator[SlowChat]:
    c = SlowChat()
    yield c
    c.stop()


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture(scope="session")
def server(chat: SlowChat) -> Iterator[TwigServer]:
    config = f'[llm.providers.loop]\nkind = "openai"\nbase_url = "{chat.base_url}"\nmodels = ["slow"]\n'
    s = TwigServer(
        env={
            # Webhooks to the loopback receiver, retried quickly.
            "TWIG_WEBHOOKS__ALLOW_HTTP": "true",
            "TWIG_WEBHOOKS__ALLOW_PRIVATE_NETWORKS": "true",
            "TWIG_WEBHOOKS__RETRY_DELAYS_SECS": "[0.2, 0.2]",
            # Lexical-only scores are low; let every hit reach the answerer.
            "TWIG_ANSWER__SIMILARITY_THRESHOLD": "0",
            "TWIG_LLM__DEFAULT_MODEL": "extractive",
        },
        config=config,
    )
    yield s
    s.stop()


@pytest.fixture(scope="session")
def client(server: TwigServer) -> Iterator[twig.Twig]:
    c = twig.Twig(api_key=server.key, base_url=server.base_url, max_retries=0)
    yield c
    c.close()


@pytest.fixture
async def aclient(server: TwigServer):
    async with twig.AsyncTwig(api_key=server.key, base_url=server.base_url, max_retries=0) as c:
        yield c


def wait_synced(client: twig.Twig, ds_id: str, timeout: float = 60.0) -> object:
    """Polls `status` until the sync finished."""
    deadline = time.time() + timeout
    while True:
        st = client.data_sources.status(ds_id)
        if st.status in ("active", "failed", "partial") and st.progress_pct == 100:
            return st
        if time.time() > deadline:
            raise AssertionError(f"sync of {ds_id} did not finish: {st!r}")
        time.sleep(0.2)


@pytest.fixture(scope="session")
def corpus(client: twig.Twig):
    """A `file` data source holding DOCS, synced, and an extractive agent over it."""
    ds = client.data_sources.create(type="file", name="sdk corpus")
    up = client.data_sources.upload(ds.id, [(name, body) for name, body in DOCS.items()])
    assert len(up.document_ids) == len(DOCS)
    wait_synced(client, ds.id)
    agent = client.agents.create(name="corpus agent", data_source_ids=[ds.id], model="extractive")
    return {"ds": ds, "agent": agent, "org_id": client.me().org_id}


def pytest_sessionfinish(session, exitstatus):
    # A run that collected nothing must fail, whatever pytest's own exit code says.
    if session.testscollected == 0:
        session.exitstatus = 1
