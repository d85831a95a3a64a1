"""Support for scripts/schemathesis (standard library only).

  seed BASE_URL API_KEY MAIL_DIR CONFIG_OUT [REPOSITORY]
      Creates real data through the API (tasks with events and artifacts, share
      links, comments, a share code and its viewer session, a webhook endpoint and,
      with REPOSITORY, a pull request) and writes a schemathesis.toml that
      authenticates as the owner and the viewer and offers the real identifiers
      to the parametrized routes.

  bridge-unix UNIX_PATH HOST PORT
  bridge-tcp PORT UNIX_PATH
      Forward connections between a Unix socket and a TCP address, so that a server
      in an isolated network namespace reaches a database outside it.
"""

import asyncio
import json
import os
import pathlib
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

# Operations that refuse some schema-valid requests on purpose, for rules JSON
# Schema can't state; Schemathesis's positive_data_acceptance check is off for them
# (every other check still runs).
SEMANTIC_RULES = [
    ("GET", "/v1/tasks", "`cursor` is opaque: only a `next_cursor` the API handed out is one"),
    ("GET", "/v1/share-links", "`cursor` is opaque: only a `next_cursor` the API handed out is one"),
    ("PATCH", "/v1/tasks/{task_id}",
     "`repository` must name a git repository under --repositories-dir; `base_branch` comes with it"),
    ("POST", "/v1/share-links", "`expires_at` must be in the future"),
    ("PATCH", "/v1/share-links/{share_link_id}", "`expires_at` must be in the future"),
    ("POST", "/v1/agentrix/tasks/{taskId}/share", "`expiresAt` must be in the future"),
    ("POST", "/v1/tasks/{task_id}/pull-requests", "`head_branch` must be a valid git branch name"),
]

# Operations with header parameters. Schemathesis takes the declared headers for a
# closed set and expects a request with another header to be refused; HTTP requests
# carry headers an API does not know about, so unknown headers are not generated
# there (which also leaves unknown query parameters out for them).
OPEN_HEADERS = [
    ("GET", "/v1/tasks/{task_id}/events/stream"),
    ("GET", "/s/{token}"),
]


class Api:
    def __init__(self, base, key):
        self.base = base.rstrip("/")
        self.key = key

    def call(self, method, path, body=None, *, content_type="application/json", headers=None, expect=None):
        data = None
        request_headers = {"Accept": "application/json"}
        if self.key:
            request_headers["Authorization"] = f"Bearer {self.key}"
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            request_headers["Content-Type"] = content_type
        request_headers.update(headers or {})
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=request_headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, kind, raw = response.status, response.headers.get_content_type(), response.read()
        except urllib.error.HTTPError as err:
            status, kind, raw = err.code, err.headers.get_content_type(), err.read()
        if expect is not None and status != expect:
            raise SystemExit(f"seed: {method} {path} answered {status}, expected {expect}: {raw[:500]!r}")
        return json.loads(raw) if kind == "application/json" and raw else raw


def wait_for_mail(mail_dir, seen, timeout=10.0):
    """The verification link of the next comment mail written to `mail_dir`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(pathlib.Path(mail_dir).glob("**/*.eml")):
            if path in seen:
                continue
            text = path.read_text(errors="replace").replace("=\r\n", "").replace("=\n", "")
            match = re.search(r"(/s/[A-Za-z0-9_-]+/comments/verify\?code=)([A-Za-z0-9_=-]+)", text)
            if match:
                seen.add(path)
                return match.group(2)
        time.sleep(0.1)
    raise SystemExit(f"seed: no comment verification mail appeared in {mail_dir}")


def seed(base, key, mail_dir, config_out, repository=None):
    owner = Api(base, key)
    public = Api(base, None)

    # A finished cloud-mode task with outputs, other events and an artifact.
    task = owner.call("POST", "/v1/tasks", {"title": "Fix the login bug", "prompt": "Users cannot log in",
                                            "agent": "coder 1.0"}, expect=201)["data"]
    task_id = task["task_id"]
    events = f"/v1/tasks/{task_id}/events"
    owner.call("POST", events, {"type": "progress", "content": "Reproducing the bug"}, expect=201)
    owner.call("POST", events, {"type": "output", "name": "Summary",
                                "content": "## Fixed\nThe session cookie was not renewed."}, expect=201)
    owner.call("POST", events, {"type": "log", "content": "token=redacted", "private": True}, expect=201)
    owner.call("POST", events, {"type": "output", "name": "Notes", "content": "- one\n- two"}, expect=201)
    artifact = owner.call("POST", f"/v1/tasks/{task_id}/artifacts?name=report.txt", b"The report.\n",
                          content_type="text/plain", expect=201)["data"]
    owner.call("PATCH", f"/v1/tasks/{task_id}", {"status": "running"}, expect=200)
    owner.call("PATCH", f"/v1/tasks/{task_id}", {"status": "completed"}, expect=200)

    # A finished task that ran on a machine (local mode: no share code), and a failed one.
    local = owner.call("POST", "/v1/tasks", {"title": "Local run", "machine_id": "laptop-1"}, expect=201)["data"]
    owner.call("PATCH", f"/v1/tasks/{local['task_id']}", {"status": "cancelled"}, expect=200)
    failed = owner.call("POST", "/v1/tasks", {"title": "Failed run"}, expect=201)["data"]
    owner.call("PATCH", f"/v1/tasks/{failed['task_id']}", {"status": "failed"}, expect=200)
    task_ids = [task_id, local["task_id"], failed["task_id"]]

    pull_request_numbers = []
    if repository:
        owner.call("PATCH", f"/v1/tasks/{task_id}", {"repository": repository, "base_branch": "main"}, expect=200)
        pr = owner.call("POST", f"/v1/tasks/{task_id}/pull-requests",
                        {"title": "Renew the session cookie", "head_branch": "fix-login"}, expect=201)["data"]
        pull_request_numbers.append(pr["number"])

    # Share links: open with comments, password-protected with a view limit, and revoked.
    open_link = owner.call("POST", "/v1/share-links", {
        "task_id": task_id, "title": "Login fix", "description": "Results of the fix",
        "permissions": {"allow_download": True, "allow_comments": True, "show_metadata": True},
        "notify_on_view": True}, expect=201)["data"]
    protected = owner.call("POST", "/v1/share-links", {
        "task_id": task_id, "password": "fixture-pass-1", "max_views": 1000,
        "permissions": {"allow_download": False}}, expect=201)["data"]
    revoked = owner.call("POST", "/v1/share-links", {"task_id": failed["task_id"]}, expect=201)["data"]
    owner.call("DELETE", f"/v1/share-links/{revoked['share_link_id']}", expect=200)
    links = [open_link, protected, revoked]
    tokens = [urllib.parse.urlsplit(link["url"]).path.rsplit("/", 1)[1] for link in links]
    short_codes = [urllib.parse.urlsplit(link["short_url"]).path.rsplit("/", 1)[1] for link in links]

    # Open the link as a viewer: a grant, a download, a published and a pending comment.
    token = tokens[0]
    view = public.call("GET", f"/s/{token}", expect=200)["data"]
    grant = view["grant"]
    public.call("GET", f"/s/{token}/artifacts/{artifact['artifact_id']}?grant={grant}", expect=200)
    seen = set()
    comment_ids, verify_codes = [], []
    for name, content in [("Carol", "Looks good!"), ("Dave", "Thanks for the fix.")]:
        posted = public.call("POST", f"/s/{token}/comments", {
            "name": name, "email": f"{name.lower()}@example.org", "content": content, "grant": grant},
            expect=202)["data"]
        comment_ids.append(posted["comment_id"])
        verify_codes.append(wait_for_mail(mail_dir, seen))
    public.call("GET", f"/s/{token}/comments/verify?code={verify_codes[0]}", headers={"Accept": "text/html"})
    public.call("GET", f"/s/{tokens[1]}", headers={"X-Share-Password": "fixture-pass-1"}, expect=200)

    # A share code with every permission, and a viewer session from it.
    code = owner.call("POST", f"/v1/agentrix/tasks/{task_id}/share", {
        "permissions": {"canSendMessage": True, "canCreatePr": True, "canApprovePr": True,
                        "canViewPr": True, "canMergePr": True}}, expect=201)["shareCode"]
    session = public.call("GET", f"/v1/auth/share?code={code}", expect=200)

    # A webhook endpoint (never reachable from the isolated run) with a test delivery queued.
    webhook = owner.call("POST", "/v1/webhooks", {
        "url": "https://hooks.example.invalid/agentshare", "events": ["share_link.viewed", "comment.created"],
        "description": "fixture"}, expect=201)["data"]
    owner.call("POST", f"/v1/webhooks/{webhook['webhook_id']}/test", expect=202)

    dictionaries = {
        "task_ids": task_ids,
        "artifact_ids": [artifact["artifact_id"]],
        "share_link_ids": [link["share_link_id"] for link in links],
        "comment_ids": comment_ids,
        "webhook_ids": [webhook["webhook_id"]],
        "link_tokens": tokens + short_codes,
        "grants": [grant],
        "codes": [code] + verify_codes[1:],
    }
    parameters = {
        "path.task_id": "task_ids",
        "path.taskId": "task_ids",
        "query.task_id": "task_ids",
        "path.artifact_id": "artifact_ids",
        "path.share_link_id": "share_link_ids",
        "path.comment_id": "comment_ids",
        "path.webhook_id": "webhook_ids",
        "path.token": "link_tokens",
        "query.grant": "grants",
        "body.grant": "grants",
        "query.code": "codes",
    }
    if pull_request_numbers:
        dictionaries["pull_request_numbers"] = pull_request_numbers
        parameters["path.number"] = "pull_request_numbers"

    lines = [
        "# Written by scripts/schemathesis-helper.py seed: credentials and real identifiers.",
        "# Every check, in every phase (a check named on the command line would override",
        "# the per-operation settings below).",
        "[checks]",
        "enabled = true",
        "",
        "# A body over the size limit is refused with 413, a rejection like any other.",
        "[checks.negative_data_rejection]",
        "expected-statuses = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]",
        "",
        "[auth.openapi.api_key]",
        f"bearer = {json.dumps(key)}",
        "[auth.openapi.viewer_session]",
        f"bearer = {json.dumps(session['token'])}",
        "",
    ]
    for name, values in dictionaries.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    lines.append("[parameters]")
    for parameter, dictionary in parameters.items():
        lines.append(f'"{parameter}" = {{ dictionary = "{dictionary}", probability = 0.7 }}')
    for method, path, reason in SEMANTIC_RULES:
        lines += ["", f"# {reason}", "[[operations]]", f'include-method = "{method}"',
                  f'include-path = "{path}"', "checks = { positive_data_acceptance = { enabled = false } }"]
    for method, path in OPEN_HEADERS:
        lines += ["", "# Requests may carry headers the API does not know about.", "[[operations]]",
                  f'include-method = "{method}"', f'include-path = "{path}"',
                  "generation = { allow-extra-parameters = false }"]
    pathlib.Path(config_out).write_text("\n".join(lines) + "\n")
    print(f"seeded {len(task_ids)} tasks, {len(links)} share links, {len(comment_ids)} comments, "
          f"1 share code, 1 webhook, {len(pull_request_numbers)} pull requests")


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


def forwarder(connect):
    async def handle(reader, writer):
        try:
            upstream_reader, upstream_writer = await connect()
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    return handle


async def bridge_unix(path, host, port):
    handle = forwarder(lambda: asyncio.open_connection(host, int(port)))
    server = await asyncio.start_unix_server(handle, path=path)
    async with server:
        await server.serve_forever()


async def bridge_tcp(port, path):
    handle = forwarder(lambda: asyncio.open_unix_connection(path))
    server = await asyncio.start_server(handle, host="127.0.0.1", port=int(port))
    async with server:
        await server.serve_forever()


def main(argv):
    if len(argv) >= 5 and argv[0] == "seed":
        seed(*argv[1:6])
    elif len(argv) == 4 and argv[0] == "bridge-unix":
        asyncio.run(bridge_unix(*argv[1:]))
    elif len(argv) == 3 and argv[0] == "bridge-tcp":
        asyncio.run(bridge_tcp(*argv[1:]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
