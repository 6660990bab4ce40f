"""One exception class per documented error code, carrying status, code, message, details
and request_id; the retry rule: 429/500/503 retried with backoff, 400/401/403/404 never."""

from __future__ import annotations

import time

import pytest

import twig

from ._servers import ErrorServer, TwigServer


def test_invalid_request(client):
    with pytest.raises(twig.InvalidRequestError) as e:
        client.agents.create(name="x", data_source_ids=["not-a-ds-id"])
    err = e.value
    assert err.status == 400 and err.code == "invalid_request"
    assert err.message and err.request_id and err.request_id.startswith("req_")
    assert isinstance(err.details, dict)


def test_authentication(server):
    with twig.Twig(api_key="twigsk_live_wrong", base_url=server.base_url) as c:
        with pytest.raises(twig.AuthenticationError) as e:
            c.agents.list()
    assert e.value.status == 401 and e.value.code == "unauthorized"


def test_permission_denied(client, server):
    k = client.api_keys.create(name="read only", scopes=["read"])
    with twig.Twig(api_key=k.secret, base_url=server.base_url) as c:
        with pytest.raises(twig.PermissionDeniedError) as e:
            c.agents.create(name="nope", data_source_ids=[])
    assert e.value.status == 403 and e.value.code == "forbidden"
    client.api_keys.revoke(k.id)


def test_not_found(client):
    with pytest.raises(twig.NotFoundError) as e:
        client.agents.get("agent_doesnotexist")
    assert e.value.status == 404 and e.value.code == "not_found" and e.value.request_id


@pytest.fixture(scope="module")
def limited():
    s = TwigServer(
        env={
            "TWIG_RATE_LIMITS__ENABLED": "true",
            "TWIG_RATE_LIMITS__WRITE_PER_MINUTE": "60",
            "TWIG_RATE_LIMITS__WRITE_BURST": "2",
        }
    )
    yield s
    s.stop()


def test_rate_limit_error_without_retries(limited):
    with twig.Twig(api_key=limited.key, base_url=limited.base_url, max_retries=0) as c:
        with pytest.raises(twig.RateLimitError) as e:
            for i in range(5):
                c.agents.create(name=f"a{i}", data_source_ids=[])
    err = e.value
    assert err.status == 429 and err.code == "rate_limit_exceeded"
    assert err.retry_after == 1.0
    assert err.details["scope"] == "write"


def test_429_is_retried_after_retry_after(limited):
    time.sleep(2.1)  # refill the burst
    with twig.Twig(api_key=limited.key, base_url=limited.base_url, max_retries=3) as c:
        started = time.monotonic()
        made = [c.agents.create(name=f"r{i}", data_source_ids=[]) for i in range(4)]
        elapsed = time.monotonic() - started
    assert len({a.id for a in made}) == 4
    # Two fit the burst; the others waited for the server's Retry-After (1 s each).
    assert elapsed >= 1.8, elapsed


@pytest.mark.anyio
async def test_async_429_is_retried(limited):
    time.sleep(2.1)
    async with twig.AsyncTwig(api_key=limited.key, base_url=limited.base_url, max_retries=3) as c:
        started = time.monotonic()
        for i in range(3):
            await c.agents.create(name=f"async{i}", data_source_ids=[])
        assert time.monotonic() - started >= 0.9


@pytest.mark.parametrize(
    "status,code,cls",
    [(500, "internal_error", twig.InternalServerError), (503, "service_unavailable", twig.ServiceUnavailableError)],
)
def test_5xx_classes_and_backoff(status, code, cls):
    srv = ErrorServer(status, code)
    try:
        with twig.Twig(api_key="twigsk_test_x", base_url=srv.base_url, max_retries=2) as c:
            started = time.monotonic()
            with pytest.raises(cls) as e:
                c.agents.list()
            elapsed = time.monotonic() - started
        assert srv.count == 3, "max_retries=2 makes three attempts"
        # Exponential backoff with jitter: 0.5 s then 1 s, each shortened by at most a quarter.
        assert 0.375 * 3 <= elapsed < 5, elapsed
        err = e.value
        assert (err.status, err.code, err.request_id) == (status, code, "req_test3")
        assert err.message == f"simulated {status}" and err.details == {"n": 3}
    finally:
        srv.stop()


@pytest.mark.parametrize(
    "status,code,cls",
    [
        (400, "invalid_request", twig.InvalidRequestError),
        (401, "unauthorized", twig.AuthenticationError),
        (403, "forbidden", twig.PermissionDeniedError),
        (404, "not_found", twig.NotFoundError),
    ],
)
def test_4xx_are_never_retried(status, code, cls):
    srv = ErrorServer(status, code, retry_after="0")
    try:
        with twig.Twig(api_key="twigsk_test_x", base_url=srv.base_url, max_retries=5) as c:
            with pytest.raises(cls):
                c.agents.get("agent_x")
        assert srv.count == 1
    finally:
        srv.stop()


def test_connection_error_and_timeout():
    from ._servers import free_port

    with twig.Twig(api_key="twigsk_test_x", base_url=f"http://127.0.0.1:{free_port()}") as c:
        with pytest.raises(twig.APIConnectionError):
            c.me()


def test_timeout_option(client, corpus, server):
    slow = client.agents.create(name="slow timeout", data_source_ids=[corpus["ds"].id], model="slow")
    with twig.Twig(api_key=server.key, base_url=server.base_url, timeout=0.3) as c:
        with pytest.raises(twig.APITimeoutError):
            # The slow model takes 3 s; the whole answer comes only after it.
            c.query(agent_id=slow.id, query="What is pricing?")


def test_retry_after_is_honoured_and_a_long_one_is_not_waited_for():
    short = ErrorServer(429, "rate_limit_exceeded", retry_after="1")
    long = ErrorServer(503, "service_unavailable", retry_after="120")
    try:
        with twig.Twig(api_key="twigsk_test_x", base_url=short.base_url, max_retries=1) as c:
            started = time.monotonic()
            with pytest.raises(twig.RateLimitError) as e:
                c.me()
            # One retry, after the server's 1 s (not the 0.5 s backoff).
            assert short.count == 2 and time.monotonic() - started >= 1.0
            assert e.value.retry_after == 1.0
        with twig.Twig(api_key="twigsk_test_x", base_url=long.base_url, max_retries=3) as c:
            started = time.monotonic()
            with pytest.raises(twig.ServiceUnavailableError):
                c.me()
            assert long.count == 1 and time.monotonic() - started < 1.0
    finally:
        short.stop()
        long.stop()


def test_streams_are_retried_before_their_first_byte():
    srv = ErrorServer(503, "service_unavailable", retry_after="0")
    try:
        with twig.Twig(api_key="twigsk_test_x", base_url=srv.base_url, max_retries=2) as c:
            with pytest.raises(twig.ServiceUnavailableError):
                c.query(agent_id="agent_x", query="hi", stream=True)
        assert srv.count == 3
    finally:
        srv.stop()
