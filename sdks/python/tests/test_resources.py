"""Every resource through the sync client against the real server."""

from __future__ import annotations

import datetime as dt

import pytest

import twig

from .conftest import wait_synced


def test_me_and_environment(server, monkeypatch):
    monkeypatch.setenv("TWIG_API_KEY", server.key)
    monkeypatch.setenv("TWIG_BASE_URL", server.base_url)
    with twig.Twig() as c:
        me = c.me()
    assert me.org_id.startswith("org_")
    assert "admin" in me.scopes
    monkeypatch.delenv("TWIG_API_KEY")
    with pytest.raises(twig.TwigError, match="TWIG_API_KEY"):
        twig.Twig(base_url=server.base_url)
    monkeypatch.delenv("TWIG_BASE_URL")
    c = twig.Twig(api_key="twigsk_test_x")
    assert c.base_url == "https://api.twig.so"
    c.close()


def test_agents_crud(client, corpus):
    ds = corpus["ds"]
    a = client.agents.create(
        name="Support Agent",
        data_source_ids=[ds.id],
        system_prompt="You are a helpful support assistant.",
        rag_strategy="cedar",
        model="extractive",
        temperature=0.7,
        max_tokens=500,
    )
    assert a.id.startswith("agent_") and a.name == "Support Agent"
    assert a.data_source_ids == [ds.id]
    assert client.agents.get(a.id).id == a.id
    u = client.agents.update(a.id, name="Renamed", temperature=0.2)
    assert u.name == "Renamed" and u.temperature == pytest.approx(0.2)
    assert u.system_prompt == "You are a helpful support assistant."
    assert a.id in [x.id for x in client.agents.list()]
    client.agents.delete(a.id)
    with pytest.raises(twig.NotFoundError):
        client.agents.get(a.id)


def test_data_sources_crud_sync_status_upload_documents(client):
    ds = client.data_sources.create(
        type="website",
        name="Product Documentation",
        config={"url": "https://docs.example.com", "max_pages": 1000},
        sync_frequency="daily",
    )
    assert ds.id.startswith("ds_") and ds.status == "pending"
    assert client.data_sources.get(ds.id).name == "Product Documentation"
    u = client.data_sources.update(ds.id, name="Docs", sync_frequency="weekly")
    assert u.name == "Docs" and u.sync_frequency == "weekly"
    assert ds.id in [d.id for d in client.data_sources.list()]
    client.data_sources.delete(ds.id)
    with pytest.raises(twig.NotFoundError):
        client.data_sources.get(ds.id)

    files = client.data_sources.create(type="file", name="uploads")
    up = client.data_sources.upload(files.id, [("a.txt", b"alpha bravo charlie"), ("b.md", b"# Bee\n\ndelta echo")])
    assert len(up.document_ids) == 2 and up.job.id.startswith("job_")
    st = wait_synced(client, files.id)
    assert st.status == "active" and st.documents_done == 2
    docs = list(client.data_sources.documents(files.id))
    assert sorted(d.id for d in docs) == sorted(up.document_ids)
    job = client.data_sources.sync(files.id)
    assert job.id.startswith("job_")
    wait_synced(client, files.id)
    client.documents.delete(up.document_ids[0])
    left = [d.id for d in client.data_sources.documents(files.id)]
    assert left == [up.document_ids[1]]
    client.data_sources.delete(files.id)


def test_query_interactions_feedback_analytics(client, corpus):
    r = client.query(agent_id=corpus["agent"].id, query="What is your refund policy?")
    assert r.response
    assert r.sources and r.sources[0].chunk_id.startswith("chk_")
    assert any("Refund" in s.document_title for s in r.sources)
    iid = r.metadata.interaction_id
    assert iid.startswith("int_")
    got = client.interactions.get(iid)
    assert got.query == "What is your refund policy?" and got.agent_id == corpus["agent"].id
    fb = client.interactions.feedback(iid, feedback="positive", comment="Very helpful!")
    assert fb.feedback == "positive"
    listed = list(client.interactions.list(agent_id=corpus["agent"].id, feedback="positive"))
    assert iid in [i.id for i in listed]
    today = dt.date.today()
    report = client.analytics.get(
        start_date=(today - dt.timedelta(days=1)).isoformat(),
        end_date=(today + dt.timedelta(days=1)).isoformat(),
        granularity="day",
    )
    assert report.metrics.total_queries >= 1


def test_semantic_search(client, corpus):
    r = client.semantic_search(query="pricing per month", org_id=corpus["org_id"], top_k=3,
                               data_source_ids=[corpus["ds"].id])
    assert r.chunks and r.chunks[0].document_title == "Pricing"
    assert r.metadata.total_chunks_searched >= 1


def test_users_crud(client):
    u = client.users.create(email="user@example.com", name="John Doe", role="train")
    assert u.id.startswith("usr_") and u.role == "train"
    assert client.users.get(u.id).email == "user@example.com"
    assert client.users.update(u.id, role="configure").role == "configure"
    assert u.id in [x.id for x in client.users.list()]
    client.users.delete(u.id)
    with pytest.raises(twig.NotFoundError):
        client.users.get(u.id)


def test_kb_with_versions(client):
    a = client.kb.create(title="How to reset password", content="Steps: 1. Click Forgot Password",
                         tags=["auth", "password"], status="published")
    assert a.id.startswith("kb_")
    client.kb.update(a.id, content="Steps: 1. Click Forgot Password. 2. Check your mail.")
    assert client.kb.get(a.id).content.endswith("Check your mail.")
    versions = list(client.kb.versions(a.id))
    assert [v.version for v in versions] == [2, 1]
    assert client.kb.version(a.id, 1).content == "Steps: 1. Click Forgot Password"
    assert a.id in [x.id for x in client.kb.list(status="published")]
    client.kb.delete(a.id)
    with pytest.raises(twig.NotFoundError):
        client.kb.get(a.id)


def test_api_keys_crud_and_revoke(client, server):
    created = client.api_keys.create(name="reader", scopes=["read"])
    assert created.secret.startswith("twigsk_")
    kid = created.id
    assert client.api_keys.get(kid).name == "reader"
    assert client.api_keys.update(kid, name="reader 2").name == "reader 2"
    assert kid in [k.id for k in client.api_keys.list()]
    with twig.Twig(api_key=created.secret, base_url=server.base_url) as reader:
        assert reader.me().scopes == ["read"]
        client.api_keys.revoke(kid)
        with pytest.raises(twig.AuthenticationError):
            reader.me()
