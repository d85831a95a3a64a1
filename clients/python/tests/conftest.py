"""Fixtures: a live agentshare server (from the environment), clients of its two
owners, finished tasks, the mail the server writes, and git repositories."""

from __future__ import annotations

import email
import email.policy
import os
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, List, Optional, TypeVar

import pytest

from agentshare import AgentshareClient, Task

MAIL_DEADLINE = 20.0

T = TypeVar("T")


def within(seconds: float, work: Callable[[], T]) -> T:
    """``work()``'s result, or a failure if it has not finished after ``seconds``
    (it runs in a daemon thread, so a read that never returns cannot hang the suite)."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as error:  # handed to the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail("still waiting after {} s".format(seconds))
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(
            "{} is not set: run the suite with scripts/client-tests python, which starts a server".format(name)
        )
    return value


@pytest.fixture(scope="session")
def server() -> str:
    return _env("AGENTSHARE_SERVER")


@pytest.fixture(scope="session")
def api_key() -> str:
    return _env("AGENTSHARE_API_KEY")


@pytest.fixture(scope="session")
def client(server: str, api_key: str) -> AgentshareClient:
    """alice's client, configured explicitly."""
    return AgentshareClient(api_key=api_key, server=server, timeout=30)


@pytest.fixture(scope="session")
def other_client(server: str) -> AgentshareClient:
    """bob's client: another owner."""
    return AgentshareClient(api_key=_env("AGENTSHARE_TEST_OTHER_API_KEY"), server=server, timeout=30)


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def finished_task(client: AgentshareClient) -> Callable[..., Task]:
    """Makes a task of alice's that ran and completed with outputs (and files)."""

    def make(
        title: str = "Fix the login bug",
        outputs: Optional[List[tuple]] = None,
        files: Optional[dict] = None,
        owner: Optional[AgentshareClient] = None,
    ) -> Task:
        c = owner or client
        task = c.tasks.create(title, prompt="Users cannot log in", agent="coder 1.0")
        c.tasks.update(task.task_id, status="running")
        for name, content in outputs or [("Summary", "## Fixed\nThe session cookie was not renewed.")]:
            c.events.append(task.task_id, "output", content, name=name)
        for name, data in (files or {}).items():
            c.artifacts.upload(task.task_id, name, data)
        return c.tasks.update(task.task_id, status="completed")

    return make


@pytest.fixture
def running_task(client: AgentshareClient) -> Callable[..., Task]:
    def make(title: str = "A running task") -> Task:
        task = client.tasks.create(title)
        return client.tasks.update(task.task_id, status="running")

    return make


class Mailbox:
    """The mail the server wrote to its mail directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def wait_for(self, to: str, contains: str = "", deadline: float = MAIL_DEADLINE) -> str:
        """The text of the first mail to ``to`` whose text has ``contains``; fails after
        ``deadline`` seconds without one."""
        end = time.monotonic() + deadline
        while True:
            for path in sorted(self.directory.glob("*.eml")) if self.directory.is_dir() else []:
                message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                if message["To"] is None or to.lower() not in str(message["To"]).lower():
                    continue
                body = message.get_body(preferencelist=("plain",))
                text = body.get_content() if body is not None else ""
                if contains in text:
                    return text
            if time.monotonic() > end:
                pytest.fail("no mail to {} containing {!r} within {} s".format(to, contains, deadline))
            time.sleep(0.1)


@pytest.fixture(scope="session")
def mailbox() -> Mailbox:
    return Mailbox(Path(_env("AGENTSHARE_TEST_MAIL_DIR")))


def git(cwd: Path, *args: str) -> str:
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.com",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.com",
    )
    done = subprocess.run(
        ["git", *args], cwd=str(cwd), env=env, capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise AssertionError("git {} failed: {}".format(" ".join(args), done.stderr))
    return done.stdout.strip()


class Repository:
    def __init__(self, name: str, bare: Path, work: Path) -> None:
        self.name = name
        self.bare = bare
        self.work = work


@pytest.fixture
def repository(tmp_path: Path, unique: str) -> Callable[[], Repository]:
    """A bare repository granted to alice, whose ``main`` has one commit and whose
    ``feature`` branch adds a file."""

    def make() -> Repository:
        repositories = Path(_env("AGENTSHARE_TEST_REPOSITORIES"))
        name = "repo-{}.git".format(unique)
        git(repositories, "init", "--bare", "-b", "main", name)
        bare = repositories / name
        work = tmp_path / "work"
        work.mkdir()
        git(work, "clone", str(bare), ".")
        git(work, "checkout", "-b", "main")
        git(work, "commit", "--allow-empty", "-m", "start")
        git(work, "push", "origin", "main")
        git(work, "checkout", "-b", "feature")
        (work / "login.js").write_text("export const secure = true;\n")
        git(work, "add", "login.js")
        git(work, "commit", "-m", "Make the cookie secure")
        git(work, "push", "origin", "feature")
        granted = subprocess.run(
            [
                _env("AGENTSHARE_BIN"),
                "repositories",
                "grant",
                "--owner",
                "alice",
                name,
                "--repositories-dir",
                str(repositories),
                "--database-url",
                _env("AGENTSHARE_TEST_DATABASE_URL"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert granted.returncode == 0, granted.stderr
        return Repository(name, bare, work)

    return make
