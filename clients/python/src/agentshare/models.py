"""Typed views of the service's answers.

Every model is a dataclass built from the JSON the service sent. Fields the
client knows are attributes; the whole object, including fields a newer server
added, stays available as ``model.raw`` (and ``model["field"]``). Timestamps are
ISO 8601 strings as sent (UTC, milliseconds).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Type, TypeVar, Union

__all__ = [
    "Model",
    "Health",
    "ReadyChecks",
    "Readiness",
    "Task",
    "TaskPage",
    "Event",
    "EventPage",
    "Artifact",
    "SharePermissions",
    "Redact",
    "ShareLink",
    "ShareLinkPage",
    "DailyViews",
    "ValueViews",
    "ShareLinkAnalytics",
    "ActivityEntry",
    "ActivityPage",
    "Comment",
    "CommentPending",
    "FindingLocation",
    "PreviewFinding",
    "LinkPreview",
    "RevokedAll",
    "SharingPolicy",
    "ShareCodePermissions",
    "ShareCodeCreated",
    "ShareCode",
    "ViewerSessionInfo",
    "FileChange",
    "Diff",
    "PullRequest",
    "Webhook",
    "WebhookDelivery",
    "TestEventQueued",
    "SharedOutput",
    "SharedMetadata",
    "SharedArtifact",
    "SharedComment",
    "SharedView",
    "VerificationPending",
    "ViewerToken",
    "StreamEvent",
]

M = TypeVar("M", bound="Model")

_HINTS: Dict[type, Dict[str, Any]] = {}


def _hints(cls: type) -> Dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        import typing

        module = sys.modules[cls.__module__]
        hints = typing.get_type_hints(cls, vars(module))
        _HINTS[cls] = hints
    return hints


def _convert(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = getattr(tp, "__origin__", None)
    args = getattr(tp, "__args__", ()) or ()
    if origin is Union:
        for arg in args:
            if arg is type(None):
                continue
            return _convert(arg, value)
        return value
    if origin in (list, List):
        if isinstance(value, list) and args:
            return [_convert(args[0], item) for item in value]
        return value
    if isinstance(tp, type) and issubclass(tp, Model) and isinstance(value, dict):
        return tp.from_dict(value)
    return value


class Model:
    """Base of every answer model: ``from_dict``, ``raw``, ``to_dict``."""

    @classmethod
    def from_dict(cls: Type[M], data: Mapping[str, Any]) -> M:
        """Builds the model from a JSON object, keeping all of it in ``raw``."""
        hints = _hints(cls)
        kwargs: Dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            key = f.metadata.get("json", f.name)
            if key in data:
                kwargs[f.name] = _convert(hints.get(f.name), data[key])
        obj = cls(**kwargs)
        object.__setattr__(obj, "_raw", dict(data))
        return obj

    @property
    def raw(self) -> Dict[str, Any]:
        """The JSON object as the service sent it (unknown fields included)."""
        raw = self.__dict__.get("_raw")
        return raw if raw is not None else self.to_dict()

    def to_dict(self) -> Dict[str, Any]:
        """The model as JSON: the service's object with the attributes' values."""
        out: Dict[str, Any] = dict(self.__dict__.get("_raw") or {})
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            key = f.metadata.get("json", f.name)
            if value is None and key not in out:
                continue
            out[key] = _plain(value)
        return out

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    def get(self, key: str, default: Any = None) -> Any:
        """``raw.get(key, default)``: any field, known to the client or not."""
        return self.raw.get(key, default)


def _plain(value: Any) -> Any:
    if isinstance(value, Model):
        return value.to_dict()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _camel(name: str) -> Dict[str, str]:
    return {"json": name}


@dataclass
class Health(Model):
    status: Optional[str] = None
    database: Optional[str] = None


@dataclass
class ReadyChecks(Model):
    database: bool = False
    migrations: bool = False
    view_writer: bool = False
    workers: bool = False


@dataclass
class Readiness(Model):
    """What ``/readyz`` answered: ``status`` is ``ready`` or ``not_ready``, with the
    ``reasons`` in words."""

    status: str = ""
    database: Optional[str] = None
    checks: ReadyChecks = field(default_factory=ReadyChecks)
    reasons: List[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.status == "ready"


@dataclass
class Task(Model):
    task_id: str = ""
    title: str = ""
    status: str = ""
    mode: Optional[str] = None
    machine_id: Optional[str] = None
    prompt: Optional[str] = None
    agent: Optional[str] = None
    last_event_seq: int = 0
    owner_id: Optional[str] = None
    created_at: str = ""
    updated_at: str = ""
    started_at: Optional[str] = None
    finished_at: Optional[str] = None
    repository: Optional[str] = None
    base_branch: Optional[str] = None
    require_pr_approval: bool = False
    source: Optional[str] = None
    external_id: Optional[str] = None
    metadata: Optional[Dict[str, Any]] = None


@dataclass
class TaskPage(Model):
    tasks: List[Task] = field(default_factory=list)
    has_more: bool = False
    next_cursor: Optional[str] = None


@dataclass
class Event(Model):
    seq: int = 0
    type: str = ""
    name: Optional[str] = None
    content: str = ""
    private: bool = False
    author: str = ""
    key: Optional[str] = None
    created_at: str = ""


@dataclass
class EventPage(Model):
    events: List[Event] = field(default_factory=list)
    has_more: bool = False
    next_after: int = 0


@dataclass
class Artifact(Model):
    artifact_id: str = ""
    task_id: str = ""
    name: str = ""
    content_type: str = ""
    size_bytes: int = 0
    sha256: str = ""
    created_at: str = ""
    download_url: str = ""


@dataclass
class SharePermissions(Model):
    """A link's permissions; also accepted wherever a request takes ``permissions``."""

    allow_download: Optional[bool] = None
    allow_comments: Optional[bool] = None
    show_metadata: Optional[bool] = None


@dataclass
class Redact(Model):
    """What a link hides from its viewers."""

    secrets: Optional[bool] = None
    emails: Optional[bool] = None
    paths: Optional[bool] = None
    patterns: Optional[List[str]] = None


@dataclass
class ShareLink(Model):
    share_link_id: str = ""
    task_id: str = ""
    title: str = ""
    description: Optional[str] = None
    url: str = ""
    short_url: str = ""
    password_protected: bool = False
    expires_at: str = ""
    max_views: Optional[int] = None
    view_count: int = 0
    permissions: SharePermissions = field(default_factory=SharePermissions)
    created_at: str = ""
    created_by: str = ""
    status: str = ""
    notify_on_view: bool = False
    mask_secrets: bool = True
    redact: Optional[Redact] = None
    content: Optional[str] = None
    audience: Optional[Dict[str, Any]] = None
    updated_at: str = ""
    revoked_at: Optional[str] = None


@dataclass
class ShareLinkPage(Model):
    share_links: List[ShareLink] = field(default_factory=list)
    has_more: bool = False
    next_cursor: Optional[str] = None


@dataclass
class DailyViews(Model):
    date: str = ""
    views: int = 0


@dataclass
class ValueViews(Model):
    value: str = ""
    views: int = 0


@dataclass
class ShareLinkAnalytics(Model):
    share_link_id: str = ""
    total_views: int = 0
    unique_views: int = 0
    first_viewed_at: Optional[str] = None
    last_viewed_at: Optional[str] = None
    views_by_day: List[DailyViews] = field(default_factory=list)
    countries: List[ValueViews] = field(default_factory=list)
    referrers: List[ValueViews] = field(default_factory=list)
    browsers: List[ValueViews] = field(default_factory=list)
    operating_systems: List[ValueViews] = field(default_factory=list)
    devices: List[ValueViews] = field(default_factory=list)
    viewers: List[ValueViews] = field(default_factory=list)


@dataclass
class ActivityEntry(Model):
    kind: str = ""
    at: str = ""
    client: Optional[str] = None
    agent: str = ""
    browser: str = ""
    email: Optional[str] = None
    file: Optional[str] = None
    comment_id: Optional[str] = None


@dataclass
class ActivityPage(Model):
    activity: List[ActivityEntry] = field(default_factory=list)
    has_more: bool = False
    next_cursor: Optional[str] = None


@dataclass
class Comment(Model):
    """A comment as its link's owner sees it (with the author's address)."""

    comment_id: str = ""
    name: str = ""
    email: str = ""
    content: str = ""
    status: str = ""
    created_at: str = ""
    verified_at: Optional[str] = None


@dataclass
class CommentPending(Model):
    comment_id: str = ""
    status: str = ""


@dataclass
class FindingLocation(Model):
    type: str = ""
    name: Optional[str] = None


@dataclass
class PreviewFinding(Model):
    kind: str = ""
    location: FindingLocation = field(default_factory=FindingLocation)
    count: int = 0
    samples: List[str] = field(default_factory=list)
    pattern: Optional[str] = None
    redacted: bool = False
    reason: Optional[str] = None


@dataclass
class SharedOutput(Model):
    name: str = ""
    content: str = ""
    created_at: str = ""


@dataclass
class SharedMetadata(Model):
    status: str = ""
    agent: Optional[str] = None
    created_at: str = ""
    started_at: Optional[str] = None
    finished_at: Optional[str] = None
    duration_seconds: Optional[float] = None


@dataclass
class SharedArtifact(Model):
    name: str = ""
    content_type: str = ""
    size_bytes: int = 0
    sha256: str = ""
    download_url: str = ""


@dataclass
class SharedComment(Model):
    comment_id: str = ""
    name: str = ""
    content: str = ""
    created_at: str = ""


@dataclass
class SharedView(Model):
    """What a viewer of a share link gets (``GET /s/{token}`` as JSON)."""

    share_link_id: str = ""
    title: str = ""
    description: Optional[str] = None
    outputs: List[SharedOutput] = field(default_factory=list)
    metadata: Optional[SharedMetadata] = None
    artifacts: Optional[List[SharedArtifact]] = None
    comments: Optional[List[SharedComment]] = None
    permissions: SharePermissions = field(default_factory=SharePermissions)
    expires_at: str = ""
    view_count: int = 0
    max_views: Optional[int] = None
    views_remaining: Optional[int] = None
    grant: str = ""


@dataclass
class LinkPreview(Model):
    view: SharedView = field(default_factory=SharedView)
    findings: List[PreviewFinding] = field(default_factory=list)


@dataclass
class RevokedAll(Model):
    revoked_links: int = 0
    revoked_codes: int = 0


@dataclass
class SharingPolicy(Model):
    max_link_lifetime_days: Optional[int] = None
    require_password: bool = False
    require_audience: bool = False
    allow_share_code_write: bool = True


@dataclass
class ShareCodePermissions(Model):
    """What a share code lets its viewers do (camelCase on the wire)."""

    can_send_message: Optional[bool] = field(default=None, metadata=_camel("canSendMessage"))
    can_create_pr: Optional[bool] = field(default=None, metadata=_camel("canCreatePr"))
    can_approve_pr: Optional[bool] = field(default=None, metadata=_camel("canApprovePr"))
    can_view_pr: Optional[bool] = field(default=None, metadata=_camel("canViewPr"))
    can_merge_pr: Optional[bool] = field(default=None, metadata=_camel("canMergePr"))


@dataclass
class ShareCodeCreated(Model):
    share_code: str = field(default="", metadata=_camel("shareCode"))


@dataclass
class ShareCode(Model):
    share_code: str = field(default="", metadata=_camel("shareCode"))
    task_id: str = field(default="", metadata=_camel("taskId"))
    permissions: ShareCodePermissions = field(default_factory=ShareCodePermissions)
    created_at: str = field(default="", metadata=_camel("createdAt"))
    expires_at: Optional[str] = field(default=None, metadata=_camel("expiresAt"))
    sessions_issued: int = field(default=0, metadata=_camel("sessionsIssued"))
    last_used_at: Optional[str] = field(default=None, metadata=_camel("lastUsedAt"))


@dataclass
class ViewerSessionInfo(Model):
    token: str = ""
    token_type: str = field(default="Bearer", metadata=_camel("tokenType"))
    expires_at: str = field(default="", metadata=_camel("expiresAt"))
    task_id: str = field(default="", metadata=_camel("taskId"))
    permissions: ShareCodePermissions = field(default_factory=ShareCodePermissions)


@dataclass
class FileChange(Model):
    path: str = ""
    old_path: Optional[str] = None
    status: str = ""
    insertions: int = 0
    deletions: int = 0
    binary: bool = False


@dataclass
class Diff(Model):
    base_sha: str = ""
    head_sha: str = ""
    files: List[FileChange] = field(default_factory=list)
    insertions: int = 0
    deletions: int = 0
    patch: str = ""
    patch_truncated: bool = False


@dataclass
class PullRequest(Model):
    number: int = 0
    title: str = ""
    description: Optional[str] = None
    head_branch: str = ""
    base_branch: str = ""
    status: str = ""
    author: str = ""
    approvals: int = 0
    merge_commit: Optional[str] = None
    merged_at: Optional[str] = None
    created_at: str = ""
    updated_at: str = ""
    diff: Optional[Diff] = None


@dataclass
class Webhook(Model):
    webhook_id: str = ""
    url: str = ""
    events: List[str] = field(default_factory=list)
    description: Optional[str] = None
    status: str = ""
    consecutive_failures: int = 0
    secret: Optional[str] = None
    created_at: str = ""
    updated_at: str = ""


@dataclass
class WebhookDelivery(Model):
    attempt_id: str = ""
    event_id: str = ""
    event_type: str = ""
    attempted_at: str = ""
    status_code: Optional[int] = None
    latency_ms: int = 0
    error: Optional[str] = None
    delivery_status: str = ""
    attempts: int = 0


@dataclass
class TestEventQueued(Model):
    __test__ = False  # not a pytest test class

    event_id: str = ""


@dataclass
class VerificationPending(Model):
    status: str = ""


@dataclass
class ViewerToken(Model):
    viewer_token: str = ""
    expires_in_seconds: int = 0


@dataclass
class StreamEvent:
    """One message of a task's event stream (Server-Sent Events).

    ``event`` is the task event's type (``message``, ``progress``, ``output``,
    ``log``), or ``end`` (the task finished and everything was sent) or
    ``revoked`` (the share code stopped working). ``id`` is the event's sequence
    number (resume from it with ``Last-Event-ID``).
    """

    event: str
    data: str
    id: Optional[str] = None

    def json(self) -> Any:
        """``data`` parsed as JSON."""
        return json.loads(self.data) if self.data else None

    @property
    def task_event(self) -> Optional[Event]:
        """The task's event this message carries (``None`` for ``end``/``revoked``)."""
        if self.event in ("end", "revoked"):
            return None
        value = self.json()
        return Event.from_dict(value) if isinstance(value, dict) else None

    @property
    def is_final(self) -> bool:
        """Whether the stream ends with this message (``end`` or ``revoked``)."""
        return self.event in ("end", "revoked")
