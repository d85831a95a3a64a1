"""Seed 001's Python example, run as written (only its import names this package)
in a process of its own, against the live server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from agentshare import AgentshareError

EXAMPLE = Path(__file__).with_name("seed_001_example.py")
SEED_TASK_ID = "task_1234567890abcdef"


def run_example(tmp_path: Path, task_id: str, api_key: str, server: str) -> subprocess.CompletedProcess:
    source = EXAMPLE.read_text(encoding="utf-8")
    assert source.count("'{}'".format(SEED_TASK_ID)) == 1
    script = tmp_path / "create_share_link.py"
    script.write_text(source.replace(SEED_TASK_ID, task_id), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTSHARE_", "AGENTRIX_"))}
    env["AGENTRIX_API_KEY"] = api_key
    env["AGENTSHARE_SERVER"] = server
    # subprocess.run kills the example if it runs past the timeout.
    return subprocess.run(
        [sys.executable, str(script)], cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=60
    )


def test_the_seed_example_creates_the_link_it_describes(tmp_path, client, server, api_key, finished_task):
    task = finished_task("Fix the login bug", outputs=[("Summary", "The session cookie is renewed now.")])
    before = datetime.now(timezone.utc)

    done = run_example(tmp_path, task.task_id, api_key, server)

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert len(lines) == 3, done.stdout
    created = re.fullmatch(r"Share link created: (http\S+/s/\S+)", lines[0])
    short = re.fullmatch(r"Short URL: (http\S+/s/\S+)", lines[1])
    ident = re.fullmatch(r"Share link ID: (share_\w+)", lines[2])
    assert created and short and ident, done.stdout

    link = client.share_links.get(ident.group(1))
    assert link.url == created.group(1)
    assert link.short_url == short.group(1)
    assert link.task_id == task.task_id
    assert link.title == "Login Bug Fix Results"
    assert link.description == "Results from fixing the authentication issue"
    assert link.password_protected is True
    assert link.max_views == 100
    assert link.view_count == 0
    assert link.notify_on_view is True
    assert link.status == "active"
    assert (link.permissions.allow_download, link.permissions.allow_comments, link.permissions.show_metadata) == (
        True,
        False,
        True,
    )
    # datetime.now().isoformat() has no zone: the server reads it as UTC.
    expires = datetime.fromisoformat(link.expires_at.replace("Z", "+00:00"))
    offset = datetime.now().astimezone().utcoffset() or timedelta(0)
    expected = before + timedelta(days=30) + offset
    assert abs(expires - expected) < timedelta(minutes=5), (link.expires_at, expected)

    # The link opens with the example's password and shows the task's output.
    view = client.link(link.url).open(password="securepass123")
    assert [o.content for o in view.outputs] == ["The session cookie is renewed now."]
    assert view.view_count == 1 and view.views_remaining == 99


def test_the_seed_example_prints_the_service_message_on_error(tmp_path, client, server, api_key):
    missing = "task_0000000000000000"
    try:
        client.share_links.create(task_id=missing)
    except AgentshareError as error:
        message = str(error)
        assert error.status == 404 and error.code == "TASK_NOT_FOUND"
        assert message and message == error.message
    else:
        raise AssertionError("the task should not exist")

    done = run_example(tmp_path, missing, api_key, server)

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["Error creating share link: {}".format(message)]
