"""Tasks, events, messages and artifacts, as an agent and its owner use them."""

from __future__ import annotations

import hashlib
import io
import socket
from itertools import islice

import pytest

from agentshare import (
    AgentshareClient,
    AgentshareConnectionError,
    AgentshareError,
    Artifact,
    Task,
)


def test_health(client):
    health = client.health()
    assert health.status == "ok"
    assert health.database in ("sqlite", "postgres")


def test_readiness(client):
    ready = client.ready()
    assert ready.ready and ready.status == "ready" and ready.reasons == []
    assert (ready.checks.database, ready.checks.migrations, ready.checks.view_writer, ready.checks.workers) == (
        True,
        True,
        True,
        True,
    )


def test_server_and_key_come_from_the_environment(monkeypatch, server, api_key):
    monkeypatch.setenv("AGENTSHARE_SERVER", server)
    monkeypatch.setenv("AGENTSHARE_API_KEY", api_key)
    client = AgentshareClient()
    assert client.server == server
    task = client.tasks.create("From the environment")
    assert task.status == "pending"


def test_the_default_server_is_local(monkeypatch):
    monkeypatch.delenv("AGENTSHARE_SERVER", raising=False)
    assert AgentshareClient(api_key="x").server == "http://127.0.0.1:8080"


def test_a_task_lives_through_its_lifecycle(client, unique):
    task = client.tasks.create(
        "Fix the login bug",
        prompt="Users cannot log in",
        agent="coder 1.0",
        source="api",
        external_id="run-" + unique,
        metadata={"model": "m1"},
    )
    assert isinstance(task, Task)
    assert task.task_id.startswith("task_")
    assert (task.status, task.mode, task.machine_id) == ("pending", "cloud", None)
    assert task.metadata == {"model": "m1"}
    assert task.raw["title"] == "Fix the login bug"

    running = client.tasks.update(task.task_id, status="running")
    assert running.status == "running" and running.started_at is not None

    progress = client.events.append(task.task_id, "progress", "Reproducing the bug")
    output = client.events.append(task.task_id, "output", "## Fixed", name="Summary")
    private = client.events.append(task.task_id, "log", "secret details", private=True)
    assert (progress.seq, output.seq, private.seq) == (1, 2, 3)
    assert output.name == "Summary" and private.private is True

    done = client.tasks.update(task.task_id, status="completed")
    assert done.status == "completed" and done.finished_at is not None
    assert client.tasks.get(task.task_id).last_event_seq == 3

    # A final status is final: the service's code and details reach the caller.
    with pytest.raises(AgentshareError) as refused:
        client.tasks.update(task.task_id, status="running")
    assert refused.value.status == 409
    assert refused.value.code == "INVALID_STATUS_TRANSITION"
    assert refused.value.details["status"] == "completed"
    assert refused.value.details["requested_status"] == "running"
    assert str(refused.value) == refused.value.message

    found = client.tasks.list(external_id="run-" + unique)
    assert [t.task_id for t in found.tasks] == [task.task_id]


def test_an_unset_argument_is_left_out_and_none_clears(client):
    task = client.tasks.create("Metadata", metadata={"a": 1})
    kept = client.tasks.update(task.task_id, title="Renamed")
    assert (kept.title, kept.metadata) == ("Renamed", {"a": 1})
    cleared = client.tasks.update(task.task_id, metadata=None)
    assert (cleared.title, cleared.metadata) == ("Renamed", None)


def test_tasks_are_listed_a_page_at_a_time(client, unique):
    made = [client.tasks.create("Paged {}".format(i), source="import", external_id="{}-{}".format(unique, i)) for i in range(5)]
    ids = {t.task_id for t in made}

    first = client.tasks.list(source="import", limit=2)
    assert len(first.tasks) == 2 and first.has_more and first.next_cursor
    second = client.tasks.list(source="import", limit=2, cursor=first.next_cursor)
    assert not {t.task_id for t in first.tasks} & {t.task_id for t in second.tasks}

    # Bounded, so a pager that never stops fails instead of running forever.
    every = [t.task_id for t in islice(client.tasks.iter(source="import", limit=2), 10000)]
    assert ids <= set(every)
    assert len(every) == len(set(every)), "each task once"
    assert all(t.source == "import" for t in islice(client.tasks.iter(source="import", limit=100), 10000))


def test_events_are_read_in_order_after_a_point(client):
    task = client.tasks.create("Events")
    for i in range(5):
        client.events.append(task.task_id, "log", "line {}".format(i), name="stdout")
    client.events.append(task.task_id, "output", "result", name="Result")

    page = client.events.list(task.task_id, after=0, limit=4)
    assert [e.seq for e in page.events] == [1, 2, 3, 4]
    assert page.has_more and page.next_after == 4
    rest = client.events.list(task.task_id, after=page.next_after)
    assert [e.seq for e in rest.events] == [5, 6] and not rest.has_more
    outputs = client.events.list(task.task_id, type="output")
    assert [(e.name, e.content) for e in outputs.events] == [("Result", "result")]


def test_an_event_with_a_used_key_is_stored_once(client):
    task = client.tasks.create("Keys")
    first = client.events.append(task.task_id, "log", "once", key="batch/1", created_at="2026-01-02T03:04:05.678")
    again = client.events.append(task.task_id, "log", "once", key="batch/1")
    assert again.seq == first.seq
    assert first.created_at == "2026-01-02T03:04:05.678Z"
    assert len(client.events.list(task.task_id).events) == 1


def test_the_owner_sends_a_message(client):
    task = client.tasks.create("Messages")
    message = client.tasks.send_message(task.task_id, "Please also fix logout")
    assert (message.type, message.content, message.author) == ("message", "Please also fix logout", "owner")


def test_a_bad_field_is_named(client):
    with pytest.raises(AgentshareError) as refused:
        client.tasks.create("")
    assert refused.value.status == 400
    assert refused.value.code == "INVALID_REQUEST"
    assert refused.value.field == "title"
    assert refused.value.details.get("issue")


def test_artifacts_go_up_and_come_back_byte_for_byte(client, tmp_path):
    task = client.tasks.create("Files")
    blob = bytes(range(256)) * 1024
    from_bytes = client.artifacts.upload(task.task_id, "blob.bin", blob)
    assert isinstance(from_bytes, Artifact)
    assert from_bytes.size_bytes == len(blob)
    assert from_bytes.sha256 == hashlib.sha256(blob).hexdigest()
    assert from_bytes.content_type == "application/octet-stream"

    report = tmp_path / "report.html"
    report.write_text("<h1>Report</h1>")
    from_path = client.artifacts.upload(task.task_id, "report.html", report)
    assert from_path.content_type == "text/html" and from_path.size_bytes == 15

    from_file = client.artifacts.upload(task.task_id, "notes.txt", io.BytesIO(b"notes\n"), content_type="text/markdown")
    assert from_file.content_type == "text/markdown"

    listed = client.artifacts.list(task.task_id)
    assert sorted(a.name for a in listed) == ["blob.bin", "notes.txt", "report.html"]

    assert client.artifacts.download(task.task_id, from_bytes.artifact_id) == blob
    copy = tmp_path / "copy.bin"
    assert client.artifacts.download(task.task_id, from_bytes.artifact_id, to=copy) == len(blob)
    assert copy.read_bytes() == blob
    sink = io.BytesIO()
    assert client.artifacts.download(task.task_id, from_path.artifact_id, to=sink) == 15
    assert sink.getvalue() == b"<h1>Report</h1>"
    with client.artifacts.open(task.task_id, from_file.artifact_id) as response:
        assert response.headers["content-type"].startswith("text/markdown")
        assert b"".join(response.iter_bytes(2)) == b"notes\n"

    with pytest.raises(AgentshareError) as exists:
        client.artifacts.upload(task.task_id, "blob.bin", b"again")
    assert (exists.value.status, exists.value.code) == (409, "ARTIFACT_EXISTS")

    client.artifacts.delete(task.task_id, from_bytes.artifact_id)
    with pytest.raises(AgentshareError) as gone:
        client.artifacts.download(task.task_id, from_bytes.artifact_id)
    assert (gone.value.status, gone.value.code) == (404, "ARTIFACT_NOT_FOUND")


def test_another_owners_task_is_not_found(client, other_client):
    task = client.tasks.create("Alice's")
    with pytest.raises(AgentshareError) as hidden:
        other_client.tasks.get(task.task_id)
    assert (hidden.value.status, hidden.value.code) == (404, "TASK_NOT_FOUND")


def test_a_wrong_key_is_refused(server):
    with pytest.raises(AgentshareError) as refused:
        AgentshareClient(api_key="ask_not_a_key", server=server).tasks.list()
    assert (refused.value.status, refused.value.code) == (401, "UNAUTHORIZED")


def test_an_unreachable_server_is_a_connection_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port any more.
    client = AgentshareClient(api_key="x", server="http://127.0.0.1:{}".format(port), timeout=5)
    with pytest.raises(AgentshareConnectionError) as failed:
        client.health()
    assert failed.value.status is None
