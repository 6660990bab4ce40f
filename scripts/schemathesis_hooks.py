"""Schemathesis hooks for scripts/schemathesis.sh.

They only bend generated requests around rules no JSON Schema can state, each of which the
OpenAPI document names in a description; everything else the document itself must get right:

- a date range: `start_date` not after `end_date`, and at most 10000 buckets (analytics);
- a key's `expires_at` in the future;
- a user's `email` unique in the organisation;
- a webhook URL's host that resolves (this machine has no DNS; the run allows local hosts);
- at most 50 webhook endpoints an organisation (before a create, the hook deletes the oldest
  ones the run made once 40 exist);
- a source's `chunk_overlap_tokens` at most half of `chunk_max_tokens`;
- a Google Drive `service_account_json` that is a service account's JSON key (its pattern
  can only say "a JSON object"; a generated one is replaced by the loopback test key's);
- what a data source's kind allows: the built-in `kb` source is not changed, synced or deleted
  through `/data-sources`, and files go only to `file` sources (the hook asks the server for
  the source's type);
- an agent that is queried must be `active` (the hook asks the server, and activates one a
  stateful run created inactive);
- ids a stateful link took from a `null` field (schemathesis sends them as "None").
"""

import datetime as dt
import json
import os
import re
import secrets
import urllib.request
from urllib.parse import urlsplit, urlunsplit

import schemathesis

try:
    # CPython 3.11's ast.parse can raise "AST constructor recursion depth mismatch" when
    # hypothesis parses schemathesis' largest module to name a lambda (only for a label); the
    # label falls back to the function's name instead of ending the run.
    from hypothesis.internal import lambda_sources as _lambda_sources

    _describe = _lambda_sources.lambda_description

    def _lambda_description(f):
        try:
            return _describe(f)
        except SystemError:
            return getattr(f, "__name__", "lambda")

    _lambda_sources.lambda_description = _lambda_description
except ImportError:
    pass

try:
    # hypothesis 6.170's target optimiser can index past its own node list (IndexError inside
    # hypothesis, not a finding about the server). Targeting only steers generation towards
    # higher scores, so a failed optimisation pass is skipped, never the test case.
    from hypothesis.internal.conjecture.engine import ConjectureRunner as _Runner

    _optimise = _Runner.optimise_targets

    def _optimise_targets(self, *args, **kwargs):
        try:
            return _optimise(self, *args, **kwargs)
        except IndexError:
            return False

    _Runner.optimise_targets = _optimise_targets
except ImportError:
    pass

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _date(v):
    if isinstance(v, str) and _DATE.match(v):
        try:
            return dt.date.fromisoformat(v)
        except ValueError:
            return None
    return None


def _op(ctx):
    op = getattr(ctx, "operation", None)
    return (op.method.upper(), op.path) if op is not None else ("", "")


@schemathesis.hook
def map_query(ctx, query):
    method, path = _op(ctx)
    if not isinstance(query, dict) or path not in ("/api/v1/analytics", "/api/v1/interactions"):
        return query
    start, end = _date(query.get("start_date")), _date(query.get("end_date"))
    if start and end:
        if start > end:
            start, end = end, start
        if path == "/api/v1/analytics":
            span = {"hour": 400, "day": 9000}.get(query.get("granularity") or "day", 9000)
            if (end - start).days > span:
                end = start + dt.timedelta(days=span)
                if end > dt.date(9999, 12, 31):
                    end = dt.date(9999, 12, 31)
        query["start_date"], query["end_date"] = start.isoformat(), end.isoformat()
    return query


@schemathesis.hook
def map_body(ctx, body):
    method, path = _op(ctx)
    if not isinstance(body, dict):
        return body
    if path == "/api/v1/api-keys" and isinstance(body.get("expires_at"), str):
        try:
            when = dt.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
        except ValueError:
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.timezone.utc)
            if when <= dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5):
                future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30)
                body["expires_at"] = future.strftime("%Y-%m-%dT%H:%M:%SZ")
    if path.startswith("/api/v1/users") and isinstance(body.get("email"), str) and "@" in body["email"]:
        local, _, domain = body["email"].rpartition("@")
        tag = secrets.token_hex(4)
        local = (tag + "." + local.lstrip("."))[:64].rstrip(".")
        body["email"] = f"{local}@{domain}"[:254]
    if method == "POST" and path == "/api/v1/webhooks":
        _make_room_for_webhooks()
    if method == "POST" and path == "/api/v1/query" and isinstance(body.get("agent_id"), str):
        # A stateful run may query an agent it created inactive: activate it first.
        agent = body["agent_id"]
        if re.fullmatch(r"agent_[A-Za-z0-9]{20}", agent) and _get(f"/api/v1/agents/{agent}", "status") == "inactive":
            _call("PUT", f"/api/v1/agents/{agent}", {"status": "active"})
    if path.startswith("/api/v1/webhooks") and isinstance(body.get("url"), str):
        parts = urlsplit(body["url"])
        # Only a URL that would be valid but for DNS is bent: a too long or malformed one must
        # stay as refusable as schemathesis made it.
        plausible = len(body["url"]) <= 2048 and re.fullmatch(r"[a-z0-9.-]{1,253}", parts.hostname or "")
        if parts.scheme and parts.hostname and plausible:
            # Only the host changes: credentials or a bad port stay as refusable as they were.
            user, at, hostport = parts.netloc.rpartition("@")
            port = hostport.rsplit("]", 1)[-1].partition(":")[2]
            netloc = (user + at) + "localhost" + (":" + port if port else "")
            body["url"] = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    if path.startswith("/api/v1/data-sources") and isinstance(body.get("config"), dict):
        c = body["config"]
        mx, ov = c.get("chunk_max_tokens"), c.get("chunk_overlap_tokens")
        mx = 512 if mx is None else mx
        num = (int, float)
        in_bounds = isinstance(mx, num) and isinstance(ov, num) and 64 <= mx <= 2048 and 0 <= ov <= 1024
        if in_bounds and ov * 2 > mx and not isinstance(mx, bool) and not isinstance(ov, bool):
            c["chunk_overlap_tokens"] = int(mx) // 2
        sa = c.get("service_account_json")
        if isinstance(sa, str) and re.fullmatch(r"\s*\{[\s\S]*\}\s*", sa) and not _is_key(sa):
            c["service_account_json"] = _test_key()
    return body


def _is_key(text):
    try:
        v = json.loads(text)
    except ValueError:
        return False
    if not isinstance(v, dict):
        return False
    ok = lambda k: isinstance(v.get(k), str) and v[k].strip() != ""
    return (v.get("type") in (None, "service_account") and ok("client_email")
            and isinstance(v.get("private_key"), str) and "-----BEGIN PRIVATE KEY-----" in v["private_key"])


def _test_key():
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "crates", "twig-loopback", "testdata", "gdrive-test-key.pem")) as f:
        pem = f.read()
    return json.dumps({"type": "service_account", "client_email": "twig-sync@example.iam.gserviceaccount.com",
                       "private_key": pem})


def _get(path, field):
    req = urllib.request.Request(
        f"{os.environ['TWIG_ST_BASE']}{path}",
        headers={"Authorization": f"Bearer {os.environ['TWIG_ST_KEY']}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r).get(field)
    except Exception:
        return None


def _call(method, path, body=None):
    headers = {"Authorization": f"Bearer {os.environ['TWIG_ST_KEY']}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(
        f"{os.environ['TWIG_ST_BASE']}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers=headers,
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r) if r.status != 204 else None
    except Exception:
        return None


def _make_room_for_webhooks():
    listed = _call("GET", "/api/v1/webhooks?limit=200") or {}
    hooks = listed.get("webhooks") or []
    if len(hooks) >= 40:
        for h in sorted(hooks, key=lambda h: h.get("created_at") or "")[:20]:
            _call("DELETE", f"/api/v1/webhooks/{h['id']}")


def _source_type(ds_id):
    return _get(f"/api/v1/data-sources/{ds_id}", "type")


@schemathesis.hook
def filter_path_parameters(ctx, path_parameters):
    return not any(v is None or v == "None" for v in (path_parameters or {}).values())


_CONFIG_FIELDS = {}


def _config_fields(kind):
    """(fields, required fields) of `kind`'s config, from the served document."""
    if not _CONFIG_FIELDS:
        with urllib.request.urlopen(f"{os.environ['TWIG_ST_BASE']}/api/v1/openapi.json", timeout=10) as r:
            schemas = json.load(r)["components"]["schemas"]
        for name, s in schemas.items():
            if name.endswith("Config") and isinstance(s.get("title"), str):
                kind_name = s["title"].removesuffix("_config")
                _CONFIG_FIELDS[kind_name] = (set(s.get("properties", {})), set(s.get("required", [])))
    return _CONFIG_FIELDS.get(kind)


@schemathesis.hook
def filter_case(ctx, case):
    if any(v is None or v == "None" for v in (case.path_parameters or {}).values()):
        return False
    path = case.operation.path
    if path == "/api/v1/query" and isinstance(case.body, dict) and isinstance(case.body.get("agent_id"), str):
        return _get(f"/api/v1/agents/{case.body['agent_id']}", "status") != "inactive"
    if not path.startswith("/api/v1/data-sources/{id}") or path.endswith(("/status", "/documents")):
        return True
    if case.method.upper() == "GET" and path == "/api/v1/data-sources/{id}":
        return True
    ds = (case.path_parameters or {}).get("id")
    if not isinstance(ds, str):
        return True
    kind = _source_type(ds)
    if kind == "kb":
        return False
    if path.endswith("/files"):
        return kind in (None, "file")
    body = case.body if isinstance(case.body, dict) else {}
    if case.method.upper() == "PUT" and kind is not None:
        # The type is fixed, and the config is the one of that type.
        if body.get("type") not in (None, kind):
            return False
        config = body.get("config")
        fields = _config_fields(kind)
        if isinstance(config, dict) and fields is not None:
            allowed, required = fields
            given = {k for k, v in config.items() if v is not None}
            if not set(config) <= allowed or not required <= given:
                return False
    return True
