"""Share links: the owner's API and what viewers get under /s/{token}."""

from __future__ import annotations

import csv
import io
import re
import time
import zipfile
from itertools import islice
from datetime import datetime, timedelta, timezone

import pytest

from agentshare import AgentshareError, SharePermissions, ShareLink, UNSET

REPORT = b"%PDF-1.4 pretend report\n" * 100
NOTES = b"line one\nline two\n"


@pytest.fixture
def shared_task(finished_task):
    return finished_task(
        "Weekly report",
        outputs=[("Summary", "All green."), ("Details", "Mailed ops@example.com the logs.")],
        files={"report.pdf": REPORT, "notes.txt": NOTES},
    )


def test_a_link_is_created_with_defaults_and_read_back(client, shared_task):
    link = client.share_links.create(task_id=shared_task.task_id)
    assert isinstance(link, ShareLink)
    assert link.share_link_id.startswith("share_")
    assert link.title == "Weekly report"
    assert link.status == "active" and link.password_protected is False and link.max_views is None
    assert link.permissions == SharePermissions(allow_download=True, allow_comments=False, show_metadata=True)
    assert link.url.startswith(client.server + "/s/")
    expires = datetime.fromisoformat(link.expires_at.replace("Z", "+00:00"))
    assert timedelta(days=29) < expires - datetime.now(timezone.utc) <= timedelta(days=30)

    again = client.share_links.get(link.share_link_id)
    assert (again.url, again.short_url, again.expires_at) == (link.url, link.short_url, link.expires_at)
    # Fields the client has no attribute for are still there.
    assert again["redact"]["secrets"] is True and "updated_at" in again.raw


def test_a_link_to_a_running_task_is_refused(client, running_task):
    task = running_task()
    with pytest.raises(AgentshareError) as refused:
        client.share_links.create(task_id=task.task_id)
    assert (refused.value.status, refused.value.code) == (403, "TASK_NOT_COMPLETED")
    assert refused.value.details["status"] == "running"


def test_a_refused_field_says_why_in_the_error_text(client, shared_task):
    with pytest.raises(AgentshareError) as refused:
        client.share_links.create(task_id=shared_task.task_id, expires_at="2024-02-15T23:59:59Z")
    error = refused.value
    assert (error.status, error.code, error.field) == (400, "INVALID_REQUEST", "expires_at")
    assert error.message == "Invalid request parameters"
    assert str(error) == "Invalid request parameters: expires_at must be in the future"


def test_update_changes_only_what_is_given(client, shared_task):
    link = client.share_links.create(
        task_id=shared_task.task_id,
        description="First",
        password="securepass123",
        permissions=SharePermissions(allow_download=False),
        max_views=10,
    )
    assert link.password_protected and link.permissions.allow_download is False

    renamed = client.share_links.update(link.share_link_id, title="Renamed", permissions={"allow_comments": True})
    assert renamed.title == "Renamed"
    assert renamed.password_protected is True, "an omitted password stays"
    assert renamed.description == "First" and renamed.max_views == 10
    assert (renamed.permissions.allow_download, renamed.permissions.allow_comments) == (False, True)

    with pytest.raises(AgentshareError) as locked:
        client.link(link.url).open()
    assert (locked.value.status, locked.value.code) == (401, "PASSWORD_REQUIRED")

    opened_up = client.share_links.update(link.share_link_id, password=None, max_views=None, description=None)
    assert opened_up.password_protected is False, "password=None removes it"
    assert opened_up.max_views is None and opened_up.description is None
    assert client.link(link.url).open().title == "Renamed"

    untouched = client.share_links.update(link.share_link_id, password=UNSET)
    assert untouched.password_protected is False

    later = (datetime.now(timezone.utc) + timedelta(days=2)).replace(microsecond=0, tzinfo=None)
    moved = client.share_links.update(link.share_link_id, expires_at=later)
    assert moved.expires_at == later.isoformat() + ".000Z"


def test_links_are_listed_filtered_and_paged(client, shared_task, finished_task):
    made = [client.share_links.create(task_id=shared_task.task_id, title="Link {}".format(i)) for i in range(3)]
    revoked = client.share_links.revoke(made[0].share_link_id)
    assert revoked.status == "revoked" and revoked.revoked_at is not None
    finished_task("Another task")

    first = client.share_links.list(task_id=shared_task.task_id, limit=2)
    assert len(first.share_links) == 2 and first.has_more and first.next_cursor
    second = client.share_links.list(task_id=shared_task.task_id, limit=2, cursor=first.next_cursor)
    listed = first.share_links + second.share_links
    assert sorted(link.share_link_id for link in listed) == sorted(link.share_link_id for link in made)
    # Newest first (links made in one millisecond may come in either order).
    stamps = [link.created_at for link in listed]
    assert stamps == sorted(stamps, reverse=True), "newest first"

    pager = client.share_links.iter(task_id=shared_task.task_id, status="active", limit=1)
    active = [link.share_link_id for link in islice(pager, 100)]
    assert sorted(active) == sorted([made[2].share_link_id, made[1].share_link_id])
    assert [link.share_link_id for link in client.share_links.list(task_id=shared_task.task_id, status="revoked").share_links] == [
        made[0].share_link_id
    ]


def test_a_revoked_link_is_gone_for_viewers_and_frozen_for_the_owner(client, shared_task):
    link = client.share_links.create(task_id=shared_task.task_id)
    viewer = client.link(link.url)
    assert viewer.open().title == "Weekly report"
    client.share_links.revoke(link.share_link_id)

    with pytest.raises(AgentshareError) as gone:
        viewer.open()
    assert (gone.value.status, gone.value.code) == (404, "SHARE_LINK_NOT_FOUND")
    with pytest.raises(AgentshareError) as frozen:
        client.share_links.update(link.share_link_id, title="Too late")
    assert (frozen.value.status, frozen.value.code) == (409, "SHARE_LINK_REVOKED")
    assert client.share_links.revoke(link.share_link_id).status == "revoked", "revoking again changes nothing"


def test_a_viewer_opens_a_protected_link_and_downloads_its_files(client, shared_task, tmp_path):
    link = client.share_links.create(task_id=shared_task.task_id, password="securepass123", max_views=5)
    viewer = client.link(link.url)

    with pytest.raises(AgentshareError) as wrong:
        viewer.open(password="not-the-password")
    assert (wrong.value.status, wrong.value.code) == (401, "INVALID_PASSWORD")
    assert client.share_links.get(link.share_link_id).view_count == 0, "a wrong password spends nothing"

    view = viewer.open(password="securepass123")
    assert [(o.name, o.content) for o in view.outputs] == [
        ("Summary", "All green."),
        ("Details", "Mailed ops@example.com the logs."),
    ]
    assert view.metadata is not None and view.metadata.status == "completed" and view.metadata.agent == "coder 1.0"
    assert (view.view_count, view.max_views, view.views_remaining) == (1, 5, 4)
    files = {a.name: a for a in view.artifacts or []}
    assert set(files) == {"report.pdf", "notes.txt"}
    assert files["report.pdf"].size_bytes == len(REPORT)

    assert viewer.download(files["report.pdf"]) == REPORT
    assert viewer.download(files["notes.txt"].download_url) == NOTES
    artifact_id = re.search(r"/artifacts/([^?]+)", files["report.pdf"].download_url).group(1)
    saved = tmp_path / "report.pdf"
    assert viewer.download(artifact_id, grant=view.grant, to=saved) == len(REPORT)
    assert saved.read_bytes() == REPORT

    archive = zipfile.ZipFile(io.BytesIO(viewer.download_all(view.grant)))
    assert sorted(archive.namelist()) == ["notes.txt", "report.pdf"]
    assert archive.read("report.pdf") == REPORT

    with pytest.raises(AgentshareError) as no_grant:
        viewer.download(artifact_id, grant="view_0.0.forged")
    assert (no_grant.value.status, no_grant.value.code) == (401, "VIEW_REQUIRED")

    assert client.share_links.get(link.share_link_id).view_count == 1, "downloads spend no view"


def test_a_link_without_downloads_serves_none(client, shared_task):
    link = client.share_links.create(task_id=shared_task.task_id, permissions={"allow_download": False, "show_metadata": False})
    view = client.link(link.url).open()
    assert view.artifacts is None and view.metadata is None
    artifact_id = client.artifacts.list(shared_task.task_id)[0].artifact_id
    with pytest.raises(AgentshareError) as refused:
        client.link(link.url).download(artifact_id, grant=view.grant)
    assert (refused.value.status, refused.value.code) == (403, "DOWNLOAD_NOT_ALLOWED")


def test_a_one_time_link_opens_once(client, shared_task):
    link = client.share_links.create(task_id=shared_task.task_id, max_views=1)
    view = client.link(link.short_url).open()
    assert (view.view_count, view.views_remaining) == (1, 0)
    with pytest.raises(AgentshareError) as spent:
        client.link(link.url).open()
    assert spent.value.code == "SHARE_LINK_NOT_FOUND"
    assert client.share_links.get(link.share_link_id).status == "expired"


def test_a_link_reads_as_markdown(client, shared_task):
    link = client.share_links.create(task_id=shared_task.task_id, title="As markdown", password="securepass123")
    document = client.link(link.short_url).open_markdown(password="securepass123")
    assert document.startswith("# As markdown\n")
    assert "## Summary" in document and "All green." in document
    assert "report.pdf" in document


def test_the_page_form_reveals_a_view_limited_link(client, shared_task):
    link = client.share_links.create(task_id=shared_task.task_id, max_views=3, password="securepass123")
    page = client.link(link.url).reveal(password="securepass123")
    assert "All green." in page
    assert client.share_links.get(link.share_link_id).view_count == 1


def test_analytics_and_activity_record_what_viewers_did(client, shared_task, tmp_path):
    link = client.share_links.create(task_id=shared_task.task_id)
    viewer = client.link(link.url)
    for _ in range(3):
        view = viewer.open()
    viewer.download(view.artifacts[0])

    analytics = client.share_links.analytics(link.share_link_id)
    assert analytics.share_link_id == link.share_link_id
    assert analytics.total_views == 3 and analytics.unique_views == 1
    assert sum(day.views for day in analytics.views_by_day) == 3
    assert sum(device.views for device in analytics.devices) == 3

    # Entries are written beside the answer, not before it: wait (at most 10 s) for
    # the download's.
    deadline = time.monotonic() + 10
    while True:
        everything = client.share_links.activity(link.share_link_id)
        kinds = [entry.kind for entry in everything.activity]
        if len(kinds) == 4 or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert kinds == ["downloaded", "revealed", "revealed", "revealed"], "newest first"
    assert everything.activity[0].file == view.artifacts[0].name

    first = client.share_links.activity(link.share_link_id, limit=3)
    assert len(first.activity) == 3 and first.has_more and first.next_cursor
    rest = client.share_links.activity(link.share_link_id, limit=3, cursor=first.next_cursor)
    assert [e.kind for e in first.activity + rest.activity] == kinds and not rest.has_more

    text = client.share_links.activity_csv(link.share_link_id)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["kind"] for row in rows] == kinds
    saved = tmp_path / "activity.csv"
    assert client.share_links.activity_csv(link.share_link_id, to=saved) == len(text.encode())
    assert saved.read_bytes() == text.encode()


def test_a_preview_shows_what_viewers_would_get_and_creates_nothing(client, shared_task):
    preview = client.share_links.preview(task_id=shared_task.task_id, redact={"emails": True}, title="Preview")
    assert preview.view.title == "Preview"
    details = [o.content for o in preview.view.outputs if o.name == "Details"]
    assert details == ["Mailed [email hidden] the logs."]
    emails = [f for f in preview.findings if f.kind == "email"]
    assert emails and emails[0].redacted is True
    assert emails[0].location.type == "output" and emails[0].location.name == "Details"
    assert client.share_links.list(task_id=shared_task.task_id).share_links == []

    with pytest.raises(AgentshareError) as refused:
        client.share_links.preview(task_id=shared_task.task_id, redact={"patterns": ["("]})
    assert refused.value.code == "INVALID_REQUEST" and refused.value.field == "redact.patterns[0]"


def test_comments_are_posted_verified_listed_and_deleted(client, shared_task, mailbox, unique):
    link = client.share_links.create(task_id=shared_task.task_id, permissions={"allow_comments": True})
    viewer = client.link(link.url)
    view = viewer.open()
    address = "carol-{}@example.org".format(unique)

    pending = viewer.post_comment(name="Carol", email=address, content="Looks good!", grant=view.grant)
    assert pending.status == "pending_verification" and pending.comment_id.startswith("comment_")
    assert viewer.open().comments == [], "not shown before its author confirms it"

    mail = mailbox.wait_for(address, "/comments/verify?code=")
    code = re.search(r"/comments/verify\?code=(\S+)", mail).group(1)
    viewer.verify_comment(code)

    shown = viewer.open().comments
    assert [(c.comment_id, c.name, c.content) for c in shown or []] == [(pending.comment_id, "Carol", "Looks good!")]
    owned = client.share_links.comments(link.share_link_id)
    assert [(c.comment_id, c.email, c.status) for c in owned] == [(pending.comment_id, address, "published")]
    assert owned[0].verified_at is not None

    client.share_links.delete_comment(link.share_link_id, pending.comment_id)
    assert [c.status for c in client.share_links.comments(link.share_link_id)] == ["deleted"]
    assert viewer.open().comments == []
    with pytest.raises(AgentshareError) as gone:
        client.share_links.delete_comment(link.share_link_id, pending.comment_id)
    assert (gone.value.status, gone.value.code) == (404, "COMMENT_NOT_FOUND")


def test_comments_need_the_permission(client, shared_task):
    link = client.share_links.create(task_id=shared_task.task_id)
    view = client.link(link.url).open()
    with pytest.raises(AgentshareError) as refused:
        client.link(link.url).post_comment(name="Eve", email="eve@example.org", content="hi", grant=view.grant)
    assert (refused.value.status, refused.value.code) == (403, "COMMENTS_NOT_ALLOWED")


def test_an_audience_member_proves_an_address_to_open_the_link(client, shared_task, mailbox, unique):
    member = "ana-{}@example.com".format(unique)
    link = client.share_links.create(task_id=shared_task.task_id, audience={"type": "emails", "emails": [member]})
    assert link.audience == {"type": "emails", "emails": [member]}
    viewer = client.link(link.url)

    with pytest.raises(AgentshareError) as unproven:
        viewer.open()
    assert (unproven.value.status, unproven.value.code) == (401, "VERIFICATION_REQUIRED")

    assert viewer.request_verification(member).status == "pending"
    code = re.search(r"\b(\d{6})\b", mailbox.wait_for(member, "code")).group(1)
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(AgentshareError) as failed:
        viewer.confirm_verification(member, wrong)
    assert (failed.value.status, failed.value.code) == (401, "VERIFICATION_FAILED")

    token = viewer.confirm_verification(member, code)
    assert token.viewer_token and token.expires_in_seconds > 0
    view = viewer.open(viewer_token=token.viewer_token)
    assert view.share_link_id == link.share_link_id
    assert client.share_links.analytics(link.share_link_id).viewers[0].value == member


def test_revoke_all_takes_back_a_tasks_links_and_code(client, shared_task, finished_task):
    kept = client.share_links.create(task_id=finished_task("Kept").task_id)
    links = [client.share_links.create(task_id=shared_task.task_id) for _ in range(2)]
    code = client.share_codes.create(shared_task.task_id)

    result = client.share_links.revoke_all(task_id=shared_task.task_id, include_codes=True)
    assert (result.revoked_links, result.revoked_codes) == (2, 1)
    assert {client.share_links.get(link.share_link_id).status for link in links} == {"revoked"}
    assert client.share_links.get(kept.share_link_id).status == "active"
    with pytest.raises(AgentshareError) as dead:
        client.share_codes.exchange(code.share_code)
    assert dead.value.code == "INVALID_SHARE_CODE"
