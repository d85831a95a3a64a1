"""Share codes and viewer sessions (seed 003): following a task live and acting on it."""

from __future__ import annotations

import time

import pytest

from agentshare import AgentshareClient, AgentshareError, AgentshareTimeoutError, ShareCodePermissions
from conftest import git, within

STREAM_TIMEOUT = 15.0
DEADLINE = 40.0  # longer than any read timeout given to a stream below


def test_a_code_is_made_read_rotated_and_revoked_on_both_routes(client, running_task):
    task = running_task()
    first = client.share_codes.create(task.task_id, permissions={"canSendMessage": True}, expires_at="2099-01-01T00:00:00Z")
    assert len(first.share_code) >= 20
    for route in ("agentrix", "tasks"):
        info = client.share_codes.get(task.task_id, route=route)
        assert info.share_code == first.share_code and info.task_id == task.task_id
        assert info.permissions == ShareCodePermissions(
            can_send_message=True, can_create_pr=False, can_approve_pr=False, can_view_pr=True, can_merge_pr=False
        )
        assert info.expires_at == "2099-01-01T00:00:00.000Z"

    session = client.share_codes.exchange(first.share_code)
    assert client.share_codes.get(task.task_id).sessions_issued == 1

    rotated = client.share_codes.create(task.task_id, route="tasks")
    assert rotated.share_code != first.share_code
    assert client.share_codes.get(task.task_id, route="tasks").permissions.can_send_message is False
    with pytest.raises(AgentshareError) as old:
        client.share_codes.exchange(first.share_code)
    assert (old.value.status, old.value.code, old.value.error_type) == (401, "INVALID_SHARE_CODE", "unauthorized")
    with pytest.raises(AgentshareError) as cut_off:
        session.get_task()
    assert cut_off.value.status == 401

    client.share_codes.revoke(task.task_id, route="tasks")
    for route in ("agentrix", "tasks"):
        with pytest.raises(AgentshareError) as none:
            client.share_codes.get(task.task_id, route=route)
        assert (none.value.status, none.value.code, none.value.error_type) == (404, "SHARE_NOT_FOUND", "not_found")

    client.share_codes.create(task.task_id, route="agentrix")
    client.share_codes.revoke(task.task_id, route="agentrix")
    with pytest.raises(AgentshareError) as revoked:
        client.share_codes.revoke(task.task_id)
    assert revoked.value.code == "SHARE_NOT_FOUND"


def test_share_code_errors_carry_code_error_and_message(client, other_client, running_task):
    task = running_task()
    with pytest.raises(AgentshareError) as bad:
        client.share_codes.create(task.task_id, permissions={"canSendMessage": "yes"})
    assert (bad.value.status, bad.value.code, bad.value.error_type) == (400, "INVALID_REQUEST", "validation_error")
    assert bad.value.message

    with pytest.raises(AgentshareError) as not_theirs:
        other_client.share_codes.create(task.task_id)
    assert (not_theirs.value.status, not_theirs.value.code, not_theirs.value.error_type) == (403, "FORBIDDEN", "forbidden")

    local = client.tasks.create("On a machine", machine_id="laptop-1")
    with pytest.raises(AgentshareError) as conflict:
        client.share_codes.create(local.task_id, route="tasks")
    assert (conflict.value.status, conflict.value.code) == (409, "TASK_NOT_IN_CLOUD_MODE")


def test_a_viewer_sees_the_task_but_not_its_private_events_or_other_routes(client, server, running_task):
    task = running_task("Shared live")
    client.events.append(task.task_id, "progress", "Working")
    client.events.append(task.task_id, "log", "private notes", private=True)
    artifact = client.artifacts.upload(task.task_id, "plan.md", b"# Plan\n")
    session = client.share_codes.exchange(client.share_codes.create(task.task_id).share_code)
    assert session.task_id == task.task_id and session.token.startswith("vst_")
    assert session.permissions.can_view_pr is True and session.permissions.can_send_message is False

    seen = session.get_task()
    assert seen.title == "Shared live" and seen.owner_id is None
    assert [e.content for e in session.list_events(after=0).events] == ["Working"]
    assert [a.name for a in session.list_artifacts()] == ["plan.md"]
    assert session.download_artifact(artifact.artifact_id) == b"# Plan\n"

    with pytest.raises(AgentshareError) as forbidden:
        session.send_message("let me in")
    assert (forbidden.value.status, forbidden.value.code) == (403, "FORBIDDEN")
    assert forbidden.value.details["permission"] == "canSendMessage"

    as_owner = AgentshareClient(api_key=session.token, server=server)
    with pytest.raises(AgentshareError) as owner_only:
        as_owner.tasks.list()
    assert owner_only.value.status == 401

    kept = client.viewer_session(session.token, task.task_id)
    assert kept.get_task().task_id == task.task_id


def test_a_viewer_follows_the_task_live_until_it_ends(client, running_task):
    task = running_task("Live")
    client.events.append(task.task_id, "progress", "Started")
    session = client.share_codes.exchange(
        client.share_codes.create(task.task_id, permissions={"canSendMessage": True}).share_code
    )
    with session.stream_events(read_timeout=STREAM_TIMEOUT) as stream:
        first = within(DEADLINE, lambda: next(stream))
        assert (first.event, first.id, first.task_event.content) == ("progress", "1", "Started")

        message = session.send_message("Please also fix logout")
        assert (message.author, message.seq) == ("viewer", 2)
        client.events.append(task.task_id, "output", "## Done", name="Result")
        client.tasks.update(task.task_id, status="completed")

        rest = within(DEADLINE, lambda: list(stream))
    assert [(m.event, m.id) for m in rest] == [("message", "2"), ("output", "3"), ("end", "3")]
    assert rest[0].task_event.content == "Please also fix logout"
    assert rest[1].json()["name"] == "Result"
    assert rest[-1].is_final and rest[-1].task_event is None
    assert stream.last_event_id == "3"

    # A new stream resumes after the last event seen.
    with session.stream_events(last_event_id=2, read_timeout=STREAM_TIMEOUT) as resumed:
        assert [(m.event, m.id) for m in within(DEADLINE, lambda: list(resumed))] == [("output", "3"), ("end", "3")]
    with client.events.stream(task.task_id, after=1, read_timeout=STREAM_TIMEOUT) as owner_stream:
        assert [m.event for m in within(DEADLINE, lambda: list(owner_stream))] == ["message", "output", "end"]


def test_a_stream_says_when_the_code_is_revoked(client, running_task):
    task = running_task()
    session = client.share_codes.exchange(client.share_codes.create(task.task_id).share_code)
    with session.stream_events(read_timeout=STREAM_TIMEOUT) as stream:
        client.share_codes.revoke(task.task_id)
        messages = within(DEADLINE, lambda: list(stream))
    assert [m.event for m in messages] == ["revoked"]


def test_a_silent_stream_times_out(client, running_task):
    task = running_task()
    with client.events.stream(task.task_id, read_timeout=1.0) as stream:
        started = time.monotonic()
        with pytest.raises(AgentshareTimeoutError):
            within(DEADLINE, lambda: next(stream))
        # The service's keep-alive comes every 15 s: the client gave up well before.
        assert time.monotonic() - started < 10
    with pytest.raises(StopIteration):
        next(stream)


def test_pull_requests_are_created_approved_and_merged_as_the_code_allows(client, running_task, repository):
    repo = repository()
    task = running_task("Fix login")
    linked = client.tasks.update(task.task_id, repository=repo.name, base_branch="main", require_pr_approval=True)
    assert (linked.repository, linked.base_branch, linked.require_pr_approval) == (repo.name, "main", True)

    viewer_only = client.share_codes.exchange(client.share_codes.create(task.task_id).share_code)
    with pytest.raises(AgentshareError) as forbidden:
        viewer_only.create_pull_request("Secure cookie", "feature")
    assert (forbidden.value.code, forbidden.value.details["permission"]) == ("FORBIDDEN", "canCreatePr")

    everything = {"canCreatePr": True, "canApprovePr": True, "canMergePr": True, "canViewPr": True}
    session = client.share_codes.exchange(client.share_codes.create(task.task_id, permissions=everything).share_code)
    opened = session.create_pull_request("Secure cookie", "feature", description="Sets the flag")
    assert (opened.number, opened.status, opened.head_branch, opened.base_branch) == (1, "open", "feature", "main")
    assert opened.diff is not None and [f.path for f in opened.diff.files] == ["login.js"]
    assert opened.diff.files[0].status == "added" and "secure = true" in opened.diff.patch

    assert [pr.number for pr in session.list_pull_requests()] == [1]
    assert client.pull_requests.get(task.task_id, 1).title == "Secure cookie"

    with pytest.raises(AgentshareError) as unapproved:
        session.merge_pull_request(1)
    assert (unapproved.value.status, unapproved.value.code) == (409, "APPROVAL_REQUIRED")

    assert session.approve_pull_request(1).approvals == 1
    merged = session.merge_pull_request(1)
    assert merged.status == "merged" and merged.merge_commit and merged.merged_at
    assert git(repo.bare, "rev-parse", "main") == git(repo.work, "rev-parse", "feature")

    with pytest.raises(AgentshareError) as again:
        client.pull_requests.merge(task.task_id, 1)
    assert again.value.code == "PULL_REQUEST_NOT_OPEN"
    with pytest.raises(AgentshareError) as missing:
        session.get_pull_request(99)
    assert (missing.value.status, missing.value.code) == (404, "PULL_REQUEST_NOT_FOUND")


def test_the_owner_works_pull_requests_with_the_api_key(client, running_task, repository):
    repo = repository()
    task = running_task("Owner PR")
    client.tasks.update(task.task_id, repository=repo.name, base_branch="main")
    opened = client.pull_requests.create(task.task_id, "Owner change", "feature")
    assert client.pull_requests.approve(task.task_id, opened.number).approvals == 1
    assert [pr.status for pr in client.pull_requests.list(task.task_id)] == ["open"]
    assert client.pull_requests.merge(task.task_id, opened.number).status == "merged"
