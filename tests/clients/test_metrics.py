"""`GET /metrics` read by prometheus_client's own text parser; the counters move by the traffic."""

import json
import os
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

base = os.environ["TWIG_BASE"]
key = os.environ["TWIG_KEY"]
org = os.environ["TWIG_ORG"]
ds = os.environ["TWIG_DATA_SOURCE"]
agent = os.environ["TWIG_AGENT"]


def call(method, path, body=None, k=key):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {k}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def scrape():
    status, headers, text = call("GET", "/metrics")
    assert status == 200, (status, text)
    assert headers["Content-Type"].startswith("text/plain"), headers["Content-Type"]
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples, name, **labels):
    """Sum over every series of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


# Only Admin keys read the API port's /metrics.
status, _, text = call("GET", "/metrics", k=os.environ["TWIG_READ_KEY"])
assert status == 403, (status, text)

before = scrape()
N = 5
for i in range(N):
    status, _, text = call("POST", "/api/v1/semantic-search",
                           {"query": f"warranty {i}", "org_id": org, "data_source_ids": [ds]})
    assert status == 200, text
status, _, _ = call("GET", "/api/v1/agents/agent_doesnotexist00000000")
assert status == 404
status, _, text = call("POST", "/api/v1/query", {"agent_id": agent, "query": "How long is the warranty?"})
assert status == 200, text
after = scrape()

route = "/api/v1/semantic-search"
http = "twig_http_requests_total"
got = value(after, http, method="POST", route=route, status="200") - value(before, http, method="POST", route=route, status="200")
assert got == N, got
got = value(after, http, method="GET", route="/api/v1/agents/{id}", status="404") - value(before, http, method="GET", route="/api/v1/agents/{id}", status="404")
assert got == 1, got
hist = "twig_http_request_duration_seconds_count"
got = value(after, hist, method="POST", route=route, status="200") - value(before, hist, method="POST", route=route, status="200")
assert got == N, got
# Every search (the N, and the query's own) is timed.
got = total(after, "twig_search_duration_seconds_count") - total(before, "twig_search_duration_seconds_count")
assert got >= N + 1, got
# One answer by the agent's model, with its tokens.
model = json.loads(call("GET", f"/api/v1/agents/{agent}")[2])["model"]
got = value(after, "twig_llm_requests_total", model=model, status="completed") - value(before, "twig_llm_requests_total", model=model, status="completed")
assert got == 1, got
# Its tokens, as the interaction recorded them.
last = json.loads(call("GET", f"/api/v1/interactions?agent_id={agent}&limit=1")[2])["interactions"][0]
for direction, field in [("input", "tokens_input"), ("output", "tokens_output")]:
    got = value(after, "twig_llm_tokens_total", model=model, direction=direction) - value(
        before, "twig_llm_tokens_total", model=model, direction=direction)
    assert got == last[field], (direction, got, last)
assert ("twig_llm_tokens_total", tuple(sorted({"model": model, "direction": "input"}.items()))) in after
# The setup's file sync is counted, and the jobs gauge shows it succeeded.
assert value(after, "twig_syncs_total", type="file", status="active") >= 1, after
assert value(after, "twig_sync_documents_total", type="file", outcome="indexed") >= 1
assert value(after, "twig_jobs", kind="sync", status="succeeded") >= 1
assert value(after, "twig_jobs", kind="sync", status="running") == 0
print("metrics ok")
