"""Webhooks, the sharing policy and OpenTelemetry trace export."""

from __future__ import annotations

import gzip
import json
import os
import struct
import time
from datetime import datetime, timedelta, timezone

import pytest

from agentshare import AgentshareError, SharingPolicy

DELIVERY_DEADLINE = 30.0


def test_webhooks_are_registered_changed_tested_and_deleted(client):
    hook = client.webhooks.create(
        "https://hooks.example.com/agentshare", ["share_link.viewed", "share_link.expired"], description="ops channel"
    )
    assert hook.webhook_id.startswith("wh_") and hook.secret and hook.secret.startswith("whsec_")
    assert (hook.status, hook.events, hook.description) == ("active", ["share_link.viewed", "share_link.expired"], "ops channel")

    fetched = client.webhooks.get(hook.webhook_id)
    assert fetched.url == hook.url and fetched.secret is None, "the secret is shown once"
    assert hook.webhook_id in [w.webhook_id for w in client.webhooks.list()]

    changed = client.webhooks.update(hook.webhook_id, events=["share_link.viewed"], description=None, rotate_secret=True)
    assert changed.events == ["share_link.viewed"] and changed.description is None
    assert changed.secret and changed.secret != hook.secret
    assert client.webhooks.update(hook.webhook_id, status="disabled").status == "disabled"

    client.webhooks.delete(hook.webhook_id)
    with pytest.raises(AgentshareError) as gone:
        client.webhooks.get(hook.webhook_id)
    assert (gone.value.status, gone.value.code) == (404, "WEBHOOK_NOT_FOUND")

    with pytest.raises(AgentshareError) as bad:
        client.webhooks.create("https://hooks.example.com/x", ["no.such_event"])
    assert bad.value.code == "INVALID_REQUEST" and bad.value.field is not None


def test_a_test_event_shows_in_the_deliveries(client):
    # hooks.example.com is not an address webhooks may reach: each attempt fails and is recorded.
    hook = client.webhooks.create("https://hooks.example.com/test", ["share_link.created"])
    queued = client.webhooks.test(hook.webhook_id)
    assert queued.event_id

    deadline = time.monotonic() + DELIVERY_DEADLINE
    while True:
        attempts = [d for d in client.webhooks.deliveries(hook.webhook_id, limit=50) if d.event_id == queued.event_id]
        if attempts:
            break
        assert time.monotonic() < deadline, "no delivery attempt of the test event within the deadline"
        time.sleep(0.2)
    assert attempts[0].event_type == "webhook.test"
    assert attempts[0].attempt_id and attempts[0].attempted_at
    assert attempts[0].error and attempts[0].status_code is None
    client.webhooks.delete(hook.webhook_id)


def test_the_sharing_policy_holds_for_new_links_and_codes(other_client, finished_task):
    owner = other_client
    task = finished_task("Bob's", owner=owner)
    assert owner.settings.sharing.get() == SharingPolicy(
        max_link_lifetime_days=None, require_password=False, require_audience=False, allow_share_code_write=True
    )
    try:
        policy = owner.settings.sharing.put(max_link_lifetime_days=7, require_password=True, allow_share_code_write=False)
        assert (policy.max_link_lifetime_days, policy.require_password, policy.require_audience) == (7, True, False)
        assert owner.settings.sharing.get() == policy

        with pytest.raises(AgentshareError) as no_password:
            owner.share_links.create(task_id=task.task_id)
        assert (no_password.value.status, no_password.value.field) == (400, "password")

        too_long = datetime.now(timezone.utc) + timedelta(days=30)
        with pytest.raises(AgentshareError) as lifetime:
            owner.share_links.create(task_id=task.task_id, password="securepass123", expires_at=too_long)
        assert lifetime.value.field == "expires_at"

        link = owner.share_links.create(task_id=task.task_id, password="securepass123")
        expires = datetime.fromisoformat(link.expires_at.replace("Z", "+00:00"))
        assert expires - datetime.now(timezone.utc) <= timedelta(days=7)
        with pytest.raises(AgentshareError) as removal:
            owner.share_links.update(link.share_link_id, password=None)
        assert removal.value.field == "password"

        running = owner.tasks.create("Bob's live task")
        with pytest.raises(AgentshareError) as write:
            owner.share_codes.create(running.task_id, permissions={"canSendMessage": True})
        assert (write.value.code, write.value.error_type) == ("INVALID_REQUEST", "validation_error")
        assert "canSendMessage" in write.value.message
        assert owner.share_codes.create(running.task_id).share_code

        # A field left out of a PUT takes its default.
        assert owner.settings.sharing.put(require_password=True).max_link_lifetime_days is None
        with pytest.raises(AgentshareError) as bad:
            owner.settings.sharing.put(max_link_lifetime_days=0)
        assert bad.value.field == "max_link_lifetime_days"
        assert owner.settings.sharing.get().require_password is True, "a refused PUT stores nothing"
    finally:
        owner.settings.sharing.put()
    assert owner.settings.sharing.get().require_password is False


def test_revoke_all_without_a_task_revokes_every_link(other_client, finished_task):
    owner = other_client
    links = [owner.share_links.create(task_id=finished_task("Bob {}".format(i), owner=owner).task_id) for i in range(2)]
    result = owner.share_links.revoke_all()
    assert result.revoked_links >= 2 and result.revoked_codes == 0
    assert {owner.share_links.get(link.share_link_id).status for link in links} == {"revoked"}
    assert owner.share_links.list(status="active").share_links == []


def _span_json(trace_id: str, name: str) -> dict:
    now = time.time_ns()
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "planner"}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "tests"},
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": os.urandom(8).hex(),
                                "name": "invoke_agent " + name,
                                "kind": 1,
                                "startTimeUnixNano": str(now - 2_000_000_000),
                                "endTimeUnixNano": str(now),
                                "attributes": [
                                    {"key": "gen_ai.operation.name", "value": {"stringValue": "invoke_agent"}},
                                    {"key": "gen_ai.agent.name", "value": {"stringValue": name}},
                                ],
                                "status": {"code": 1},
                            }
                        ],
                    }
                ],
            }
        ]
    }


def _field(number: int, wire: int, payload: bytes) -> bytes:
    def varint(value: int) -> bytes:
        out = bytearray()
        while True:
            byte = value & 0x7F
            value >>= 7
            out.append(byte | (0x80 if value else 0))
            if not value:
                return bytes(out)

    key = varint(number << 3 | wire)
    if wire == 2:
        return key + varint(len(payload)) + payload
    return key + payload


def _span_protobuf(trace_id: bytes, name: str) -> bytes:
    """An ExportTraceServiceRequest with one root span, encoded by hand."""
    now = time.time_ns()
    attribute = _field(1, 2, b"gen_ai.agent.name") + _field(2, 2, _field(1, 2, name.encode()))
    span = (
        _field(1, 2, trace_id)
        + _field(2, 2, os.urandom(8))
        + _field(5, 2, ("invoke_agent " + name).encode())
        + _field(6, 0, b"\x01")
        + _field(7, 1, struct.pack("<Q", now - 2_000_000_000))
        + _field(8, 1, struct.pack("<Q", now))
        + _field(9, 2, attribute)
    )
    scope_spans = _field(2, 2, span)
    resource_spans = _field(2, 2, scope_spans)
    return _field(1, 2, resource_spans)


def test_traces_exported_as_json_become_a_task(client):
    trace_id = os.urandom(16).hex()
    answer = client.otlp.export_traces(_span_json(trace_id, "Trip planner"))
    assert isinstance(answer, dict) and not (answer.get("partialSuccess") or {}).get("rejectedSpans")
    tasks = client.tasks.list(source="otlp", external_id=trace_id).tasks
    assert [(t.title, t.source) for t in tasks] == [("Trip planner", "otlp")]

    gzipped = os.urandom(16).hex()
    body = gzip.compress(json.dumps(_span_json(gzipped, "Zipped agent")).encode())
    client.otlp.export_traces(body, content_type="application/json", content_encoding="gzip")
    assert [t.title for t in client.tasks.list(source="otlp", external_id=gzipped).tasks] == ["Zipped agent"]


def test_traces_exported_as_protobuf_become_a_task(client):
    trace_id = os.urandom(16)
    answer = client.otlp.export_traces(_span_protobuf(trace_id, "Proto agent"))
    assert isinstance(answer, bytes)
    assert [t.title for t in client.tasks.list(source="otlp", external_id=trace_id.hex()).tasks] == ["Proto agent"]

    with pytest.raises(AgentshareError) as refused:
        client.otlp.export_traces(b"\xff\xff\xff")
    assert refused.value.status == 400
    assert "not an OTLP trace export" in refused.value.message, "the protobuf Status is read"


def test_traces_need_a_key(server):
    from agentshare import AgentshareClient

    with pytest.raises(AgentshareError) as refused:
        AgentshareClient(api_key="ask_wrong", server=server).otlp.export_traces({"resourceSpans": []})
    assert refused.value.status == 401
