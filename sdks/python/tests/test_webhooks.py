"""`twig.webhooks.verify` on real deliveries from the server to a loopback receiver, and on
hand-made headers (rotation, tolerance, tampering)."""

from __future__ import annotations

import json
import time

import pytest

import twig
from twig import webhooks


def test_verify_rules():
    body = b'{"event":"ping"}'
    now = int(time.time())
    new, old = "whsec_new", "whsec_old"
    header = f"t={now},v1={webhooks.sign(body, new, now)},v1={webhooks.sign(body, old, now)}"
    assert webhooks.verify(body, header, new) == {"event": "ping"}
    assert webhooks.verify(body, header, old) == {"event": "ping"}
    assert webhooks.verify(body.decode(), header, [old, new]) == {"event": "ping"}
    with pytest.raises(twig.WebhookVerificationError, match="No signature matches"):
        webhooks.verify(body, header, "whsec_other")
    with pytest.raises(twig.WebhookVerificationError):
        webhooks.verify(b'{"event":"pong"}', header, new)
    stale = now - 301
    with pytest.raises(twig.WebhookVerificationError, match="tolerance"):
        webhooks.verify(body, f"t={stale},v1={webhooks.sign(body, new, stale)}", new)
    assert webhooks.verify(body, f"t={stale},v1={webhooks.sign(body, new, stale)}", new, tolerance=0)
    for bad in ["", "v1=abc", f"t={now}", "t=soon,v1=abc"]:
        with pytest.raises(twig.WebhookVerificationError):
            webhooks.verify(body, bad, new)
    # The server's own test vector (crates/twig-core/src/webhook.rs).
    vector = "38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
    assert webhooks.sign(b'{"a":1}', "whsec_test", 1700000000) == vector
    assert webhooks.verify(b'{"a":1}', f"t=1700000000,v1={vector}", "whsec_test", tolerance=0) == {"a": 1}


def test_real_deliveries_rotation_and_redeliver(client, receiver, corpus):
    wh = client.webhooks.create(url=receiver.url, events=["interaction.completed"], description="sdk test")
    assert wh.id.startswith("wh_") and wh.secret
    assert client.webhooks.get(wh.id).url == receiver.url
    assert wh.id in [w.id for w in client.webhooks.list()]

    # A real event: a query completes.
    r = client.query(agent_id=corpus["agent"].id, query="What does pricing start at?")
    iid = r.metadata.interaction_id
    d = receiver.wait_for(lambda d: iid.encode() in d["body"])
    event = webhooks.verify(d["body"], d["headers"]["x-twig-signature"], wh.secret)
    assert event["event"] == "interaction.completed"
    assert event["data"]["interaction_id"] == iid
    with pytest.raises(twig.WebhookVerificationError):
        webhooks.verify(d["body"] + b" ", d["headers"]["x-twig-signature"], wh.secret)

    # A ping; then a rotation: both secrets sign until the grace period ends.
    ping = client.webhooks.test(wh.id)
    d = receiver.wait_for(lambda d: d["headers"].get("x-twig-delivery") == ping.id)
    assert webhooks.verify(d["body"], d["headers"]["x-twig-signature"], wh.secret)["event"] == "ping"
    rotated = client.webhooks.rotate_secret(wh.id)
    assert rotated.secret != wh.secret
    ping2 = client.webhooks.test(wh.id)
    d = receiver.wait_for(lambda d: d["headers"].get("x-twig-delivery") == ping2.id)
    sig = d["headers"]["x-twig-signature"]
    assert sig.count("v1=") == 2
    assert webhooks.verify(d["body"], sig, rotated.secret)
    assert webhooks.verify(d["body"], sig, wh.secret)
    with pytest.raises(twig.WebhookVerificationError):
        webhooks.verify(d["body"], sig, "whsec_someone_else")

    # Deliveries list; redeliver sends the same event again.
    deadline = time.time() + 10
    while True:
        listed = list(client.webhooks.deliveries(wh.id))
        if ping.id in [x.id for x in listed] and all(x.status != "pending" for x in listed) or time.time() > deadline:
            break
        time.sleep(0.2)
    assert ping.id in [x.id for x in listed]
    again = client.webhooks.redeliver(wh.id, ping.id)
    first_event = json.loads(receiver.wait_for(lambda d: d["headers"].get("x-twig-delivery") == ping.id)["body"])
    d = receiver.wait_for(
        lambda d: d["headers"].get("x-twig-delivery") == again.id
    )
    assert json.loads(d["body"])["id"] == first_event["id"]

    off = client.webhooks.update(wh.id, enabled=False)
    assert off.enabled is False
    client.webhooks.delete(wh.id)
    with pytest.raises(twig.NotFoundError):
        client.webhooks.get(wh.id)
