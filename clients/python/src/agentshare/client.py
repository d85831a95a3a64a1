"""The agentshare client and its resource groups."""

from __future__ import annotations

import json
import mimetypes
import os
import socket
import urllib.parse
from typing import IO, Any, Dict, Iterator, List, Mapping, Optional, Sequence, Union, overload

from ._http import UNSET, Response, Transport, body_of, quote, to_json
from .errors import AgentshareConnectionError, AgentshareError, AgentshareTimeoutError
from .models import (
    ActivityPage,
    Artifact,
    Comment,
    CommentPending,
    Event,
    EventPage,
    Health,
    LinkPreview,
    PullRequest,
    Readiness,
    RevokedAll,
    ShareCode,
    ShareCodeCreated,
    ShareCodePermissions,
    SharedArtifact,
    SharedView,
    ShareLink,
    ShareLinkAnalytics,
    ShareLinkPage,
    SharingPolicy,
    StreamEvent,
    Task,
    TaskPage,
    TestEventQueued,
    VerificationPending,
    ViewerSessionInfo,
    ViewerToken,
    Webhook,
    WebhookDelivery,
)

__all__ = [
    "DEFAULT_SERVER",
    "AgentshareClient",
    "AgentrixClient",
    "Tasks",
    "Events",
    "Artifacts",
    "PullRequests",
    "ShareLinks",
    "ShareCodes",
    "ViewerSession",
    "Webhooks",
    "Settings",
    "SharingSettings",
    "Otlp",
    "LinkViewer",
    "EventStream",
]

DEFAULT_SERVER = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT = 30.0
DEFAULT_READ_TIMEOUT = 60.0
"""Longest wait for the next line of an event stream; the service sends a keep-alive
comment every 15 seconds, so a silent stream this long means a dead connection."""

PathOrFile = Union[str, "os.PathLike[str]", IO[bytes]]


def _write_to(response: Response, to: PathOrFile) -> int:
    written = 0
    if isinstance(to, (str, os.PathLike)):
        with open(to, "wb") as out:
            for chunk in response.iter_bytes():
                out.write(chunk)
                written += len(chunk)
    else:
        for chunk in response.iter_bytes():
            to.write(chunk)
            written += len(chunk)
    return written


def _read_or_write(response: Response, to: Optional[PathOrFile]) -> Union[bytes, int]:
    try:
        if to is None:
            return response.content
        return _write_to(response, to)
    except (socket.timeout, TimeoutError) as err:
        raise AgentshareTimeoutError("the download stopped coming") from err
    except OSError as err:
        if isinstance(to, (str, os.PathLike)) or not isinstance(err, ConnectionError):
            raise
        raise AgentshareConnectionError("the download broke off: {}".format(err)) from err


class EventStream(Iterator[StreamEvent]):
    """A task's live events (Server-Sent Events), as an iterator of ``StreamEvent``.

    Each ``next()`` waits at most ``read_timeout`` seconds for the service to send
    something (it sends a keep-alive every 15 seconds) and raises
    ``AgentshareTimeoutError`` after that. The iteration stops after an ``end``
    message (the task finished and every event was sent), after ``revoked`` (the
    share code stopped working), or when the service closes the stream; resume
    from ``last_event_id`` with a new stream. Close it (or use ``with``) to stop
    early.
    """

    def __init__(self, response: Response, read_timeout: float) -> None:
        self._response = response
        self.read_timeout = read_timeout
        self.last_event_id: Optional[str] = None
        self._done = False

    def __iter__(self) -> "EventStream":
        return self

    def __next__(self) -> StreamEvent:
        if self._done:
            raise StopIteration
        kind: Optional[str] = None
        data: List[str] = []
        event_id: Optional[str] = None
        while True:
            try:
                line = self._response.readline()
            except (socket.timeout, TimeoutError) as err:
                self.close()
                raise AgentshareTimeoutError(
                    "the event stream sent nothing for {} s".format(self.read_timeout)
                ) from err
            except OSError as err:
                self.close()
                raise AgentshareConnectionError("the event stream broke off: {}".format(err)) from err
            if not line:
                self.close()
                raise StopIteration
            text = line.decode("utf-8", "replace")
            if text.endswith("\n"):
                text = text[:-1]
            if text.endswith("\r"):
                text = text[:-1]
            if text == "":
                if not data:
                    kind, event_id = None, None
                    continue
                if event_id is not None:
                    self.last_event_id = event_id
                message = StreamEvent(event=kind or "message", data="\n".join(data), id=self.last_event_id)
                if message.is_final:
                    self.close()
                return message
            if text.startswith(":"):
                continue
            name, _, value = text.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "event":
                kind = value
            elif name == "data":
                data.append(value)
            elif name == "id":
                event_id = value

    def close(self) -> None:
        """Stops reading and closes the connection."""
        self._done = True
        self._response.close()

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Resource:
    def __init__(self, transport: Transport) -> None:
        self._t = transport


class Tasks(_Resource):
    """Tasks: ``client.tasks``."""

    def create(
        self,
        title: str,
        *,
        prompt: Optional[str] = UNSET,
        agent: Optional[str] = UNSET,
        machine_id: Optional[str] = UNSET,
        source: Optional[str] = UNSET,
        external_id: Optional[str] = UNSET,
        metadata: Optional[Mapping[str, Any]] = UNSET,
    ) -> Task:
        """Creates a task (``pending``); ``machine_id`` unset or None runs it in cloud mode."""
        body = body_of(
            title=title,
            prompt=prompt,
            agent=agent,
            machine_id=machine_id,
            source=source,
            external_id=external_id,
            metadata=metadata,
        )
        return Task.from_dict(self._t.request("POST", "/v1/tasks", json_body=body).data())

    def get(self, task_id: str) -> Task:
        return Task.from_dict(self._t.request("GET", "/v1/tasks/" + quote(task_id)).data())

    def list(
        self,
        *,
        status: Optional[str] = None,
        source: Optional[str] = None,
        external_id: Optional[str] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> TaskPage:
        """A page of tasks, newest first; pass ``next_cursor`` as ``cursor`` for the next."""
        query = {"status": status, "source": source, "external_id": external_id, "limit": limit, "cursor": cursor}
        return TaskPage.from_dict(self._t.request("GET", "/v1/tasks", query=query).data())

    def iter(
        self,
        *,
        status: Optional[str] = None,
        source: Optional[str] = None,
        external_id: Optional[str] = None,
        limit: Optional[int] = None,
    ) -> Iterator[Task]:
        """Every task matching the filters, newest first, a page of ``limit`` at a time."""
        cursor: Optional[str] = None
        while True:
            page = self.list(status=status, source=source, external_id=external_id, limit=limit, cursor=cursor)
            for task in page.tasks:
                yield task
            if not page.has_more or not page.next_cursor:
                return
            cursor = page.next_cursor

    def update(
        self,
        task_id: str,
        *,
        title: Optional[str] = UNSET,
        status: Optional[str] = UNSET,
        machine_id: Optional[str] = UNSET,
        metadata: Optional[Mapping[str, Any]] = UNSET,
        repository: Optional[str] = UNSET,
        base_branch: Optional[str] = UNSET,
        require_pr_approval: Optional[bool] = UNSET,
    ) -> Task:
        """Changes the fields given (``None`` sends null); e.g. ``status="completed"``."""
        body = body_of(
            title=title,
            status=status,
            machine_id=machine_id,
            metadata=metadata,
            repository=repository,
            base_branch=base_branch,
            require_pr_approval=require_pr_approval,
        )
        return Task.from_dict(self._t.request("PATCH", "/v1/tasks/" + quote(task_id), json_body=body).data())

    def send_message(self, task_id: str, content: str) -> Event:
        """Appends a message to the task (a ``message`` event)."""
        path = "/v1/tasks/{}/messages".format(quote(task_id))
        return Event.from_dict(self._t.request("POST", path, json_body={"content": content}).data())


class Events(_Resource):
    """A task's events: ``client.events``."""

    def append(
        self,
        task_id: str,
        type: str,
        content: str,
        *,
        name: Optional[str] = UNSET,
        private: bool = UNSET,
        key: Optional[str] = UNSET,
        created_at: Any = UNSET,
    ) -> Event:
        """Appends one event (``message``, ``progress``, ``output`` or ``log``).

        With a ``key`` used before, nothing is appended and the stored event is
        returned, so a retried request adds nothing twice.
        """
        body = body_of(type=type, content=content, name=name, private=private, key=key, created_at=created_at)
        path = "/v1/tasks/{}/events".format(quote(task_id))
        return Event.from_dict(self._t.request("POST", path, json_body=body).data())

    def list(
        self,
        task_id: str,
        *,
        after: Optional[int] = None,
        type: Optional[str] = None,
        limit: Optional[int] = None,
    ) -> EventPage:
        """Events with a sequence number above ``after``, in order; ask again with ``next_after``."""
        path = "/v1/tasks/{}/events".format(quote(task_id))
        query = {"after": after, "type": type, "limit": limit}
        return EventPage.from_dict(self._t.request("GET", path, query=query).data())

    def stream(
        self,
        task_id: str,
        *,
        after: Optional[int] = None,
        last_event_id: Optional[Union[int, str]] = None,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> EventStream:
        """Follows the task live (Server-Sent Events); see ``EventStream``."""
        path = "/v1/tasks/{}/events/stream".format(quote(task_id))
        headers = {"Last-Event-ID": None if last_event_id is None else str(last_event_id)}
        response = self._t.request(
            "GET",
            path,
            query={"after": after},
            headers=headers,
            accept="text/event-stream",
            stream=True,
            timeout=read_timeout,
        )
        return EventStream(response, read_timeout)


class Artifacts(_Resource):
    """A task's files: ``client.artifacts``."""

    def upload(
        self,
        task_id: str,
        name: str,
        data: Union[bytes, bytearray, str, "os.PathLike[str]", IO[bytes]],
        *,
        content_type: Optional[str] = None,
    ) -> Artifact:
        """Uploads a file: ``data`` is its bytes, a path, or a binary file open for reading.

        ``content_type`` defaults to the one the name suggests, else
        ``application/octet-stream``.
        """
        if content_type is None:
            content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        path = "/v1/tasks/{}/artifacts".format(quote(task_id))
        headers: Dict[str, Optional[str]] = {}
        if isinstance(data, (str, os.PathLike)):
            with open(data, "rb") as file:
                headers["Content-Length"] = str(os.fstat(file.fileno()).st_size)
                response = self._t.request(
                    "POST", path, query={"name": name}, data=file, content_type=content_type, headers=headers
                )
        elif isinstance(data, (bytes, bytearray)):
            response = self._t.request(
                "POST", path, query={"name": name}, data=bytes(data), content_type=content_type
            )
        else:
            response = self._t.request(
                "POST", path, query={"name": name}, data=data.read(), content_type=content_type
            )
        return Artifact.from_dict(response.data())

    def list(self, task_id: str) -> List[Artifact]:
        data = self._t.request("GET", "/v1/tasks/{}/artifacts".format(quote(task_id))).data()
        return [Artifact.from_dict(item) for item in data.get("artifacts", [])]

    def open(self, task_id: str, artifact_id: str) -> Response:
        """Starts a download: read it with ``iter_bytes()`` (or ``content``); close it after."""
        path = "/v1/tasks/{}/artifacts/{}".format(quote(task_id), quote(artifact_id))
        return self._t.request("GET", path, accept="*/*", stream=True)

    @overload
    def download(self, task_id: str, artifact_id: str) -> bytes: ...
    @overload
    def download(self, task_id: str, artifact_id: str, *, to: PathOrFile) -> int: ...
    @overload
    def download(self, task_id: str, artifact_id: str, *, to: None) -> bytes: ...

    def download(self, task_id: str, artifact_id: str, *, to: Optional[PathOrFile] = None) -> Union[bytes, int]:
        """The file's bytes; or, with ``to`` (a path or a binary file), writes them there
        as they arrive and returns how many were written."""
        return _read_or_write(self.open(task_id, artifact_id), to)

    def delete(self, task_id: str, artifact_id: str) -> None:
        path = "/v1/tasks/{}/artifacts/{}".format(quote(task_id), quote(artifact_id))
        self._t.request("DELETE", path)


class PullRequests(_Resource):
    """A task's pull requests: ``client.pull_requests``."""

    def _path(self, task_id: str, number: Optional[int] = None, action: str = "") -> str:
        path = "/v1/tasks/{}/pull-requests".format(quote(task_id))
        if number is not None:
            path += "/{}".format(int(number))
        return path + action

    def list(self, task_id: str) -> List[PullRequest]:
        data = self._t.request("GET", self._path(task_id)).data()
        return [PullRequest.from_dict(item) for item in data.get("pull_requests", [])]

    def get(self, task_id: str, number: int) -> PullRequest:
        """The pull request, with its ``diff``."""
        return PullRequest.from_dict(self._t.request("GET", self._path(task_id, number)).data())

    def create(
        self, task_id: str, title: str, head_branch: str, *, description: Optional[str] = UNSET
    ) -> PullRequest:
        """Opens a pull request of ``head_branch`` into the task's base branch."""
        body = body_of(title=title, head_branch=head_branch, description=description)
        return PullRequest.from_dict(self._t.request("POST", self._path(task_id), json_body=body).data())

    def approve(self, task_id: str, number: int) -> PullRequest:
        return PullRequest.from_dict(self._t.request("POST", self._path(task_id, number, "/approve")).data())

    def merge(self, task_id: str, number: int) -> PullRequest:
        return PullRequest.from_dict(self._t.request("POST", self._path(task_id, number, "/merge")).data())


_LINK_FIELDS = (
    "title",
    "description",
    "expires_at",
    "password",
    "permissions",
    "max_views",
    "notify_on_view",
    "mask_secrets",
    "redact",
    "audience",
)


class ShareLinks(_Resource):
    """Share links (seed 001): ``client.share_links``."""

    def create(
        self,
        task_id: str,
        *,
        title: Optional[str] = UNSET,
        description: Optional[str] = UNSET,
        expires_at: Any = UNSET,
        password: Optional[str] = UNSET,
        permissions: Any = UNSET,
        max_views: Optional[int] = UNSET,
        notify_on_view: Optional[bool] = UNSET,
        mask_secrets: Optional[bool] = UNSET,
        redact: Any = UNSET,
        audience: Optional[Mapping[str, Any]] = UNSET,
        content: Optional[str] = UNSET,
    ) -> ShareLink:
        """Creates a link to a finished task.

        ``permissions`` is a dict (``{"allow_download": True, …}``) or a
        ``SharePermissions``; ``expires_at`` an ISO 8601 string (without a zone:
        UTC) or a ``datetime``; ``audience`` e.g. ``{"type": "emails", "emails":
        [...]}``; ``content`` ``"live"`` or ``"snapshot"``.
        """
        body = body_of(
            task_id=task_id,
            title=title,
            description=description,
            expires_at=expires_at,
            password=password,
            permissions=permissions,
            max_views=max_views,
            notify_on_view=notify_on_view,
            mask_secrets=mask_secrets,
            redact=redact,
            audience=audience,
            content=content,
        )
        return ShareLink.from_dict(self._t.request("POST", "/v1/share-links", json_body=body).data())

    def preview(
        self,
        task_id: str,
        *,
        title: Optional[str] = UNSET,
        description: Optional[str] = UNSET,
        expires_at: Any = UNSET,
        password: Optional[str] = UNSET,
        permissions: Any = UNSET,
        max_views: Optional[int] = UNSET,
        notify_on_view: Optional[bool] = UNSET,
        mask_secrets: Optional[bool] = UNSET,
        redact: Any = UNSET,
        audience: Optional[Mapping[str, Any]] = UNSET,
        content: Optional[str] = UNSET,
    ) -> LinkPreview:
        """What a link made with these arguments would show, and what the content holds;
        creates nothing."""
        body = body_of(
            task_id=task_id,
            title=title,
            description=description,
            expires_at=expires_at,
            password=password,
            permissions=permissions,
            max_views=max_views,
            notify_on_view=notify_on_view,
            mask_secrets=mask_secrets,
            redact=redact,
            audience=audience,
            content=content,
        )
        return LinkPreview.from_dict(self._t.request("POST", "/v1/share-links/preview", json_body=body).data())

    def get(self, share_link_id: str) -> ShareLink:
        return ShareLink.from_dict(self._t.request("GET", "/v1/share-links/" + quote(share_link_id)).data())

    def list(
        self,
        *,
        task_id: Optional[str] = None,
        status: Optional[str] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> ShareLinkPage:
        """A page of links, newest first (``status``: ``active``, ``expired``, ``revoked``)."""
        query = {"task_id": task_id, "status": status, "limit": limit, "cursor": cursor}
        return ShareLinkPage.from_dict(self._t.request("GET", "/v1/share-links", query=query).data())

    def iter(
        self, *, task_id: Optional[str] = None, status: Optional[str] = None, limit: Optional[int] = None
    ) -> Iterator[ShareLink]:
        """Every link matching the filters, newest first, fetched a page at a time."""
        cursor: Optional[str] = None
        while True:
            page = self.list(task_id=task_id, status=status, limit=limit, cursor=cursor)
            for link in page.share_links:
                yield link
            if not page.has_more or not page.next_cursor:
                return
            cursor = page.next_cursor

    def update(
        self,
        share_link_id: str,
        *,
        title: Optional[str] = UNSET,
        description: Optional[str] = UNSET,
        expires_at: Any = UNSET,
        password: Optional[str] = UNSET,
        permissions: Any = UNSET,
        max_views: Optional[int] = UNSET,
        notify_on_view: Optional[bool] = UNSET,
        mask_secrets: Optional[bool] = UNSET,
        redact: Any = UNSET,
        audience: Optional[Mapping[str, Any]] = UNSET,
    ) -> ShareLink:
        """Changes what is given and leaves the rest: ``password=None`` removes the
        password, ``max_views=None`` lifts the limit, ``description=None`` removes it;
        ``permissions`` and ``redact`` change only the flags given."""
        body = body_of(
            title=title,
            description=description,
            expires_at=expires_at,
            password=password,
            permissions=permissions,
            max_views=max_views,
            notify_on_view=notify_on_view,
            mask_secrets=mask_secrets,
            redact=redact,
            audience=audience,
        )
        path = "/v1/share-links/" + quote(share_link_id)
        return ShareLink.from_dict(self._t.request("PATCH", path, json_body=body).data())

    def revoke(self, share_link_id: str) -> ShareLink:
        """Revokes the link at once (final); returns it with ``status == "revoked"``."""
        path = "/v1/share-links/" + quote(share_link_id)
        return ShareLink.from_dict(self._t.request("DELETE", path).data())

    def revoke_all(self, *, task_id: Optional[str] = UNSET, include_codes: Optional[bool] = UNSET) -> RevokedAll:
        """Revokes every active link (of ``task_id``, if given), and with
        ``include_codes=True`` every live share code too."""
        body = body_of(task_id=task_id, include_codes=include_codes)
        return RevokedAll.from_dict(self._t.request("POST", "/v1/share-links/revoke-all", json_body=body).data())

    def analytics(self, share_link_id: str) -> ShareLinkAnalytics:
        path = "/v1/share-links/{}/analytics".format(quote(share_link_id))
        return ShareLinkAnalytics.from_dict(self._t.request("GET", path).data())

    def activity(
        self, share_link_id: str, *, limit: Optional[int] = None, cursor: Optional[str] = None
    ) -> ActivityPage:
        """A page of what viewers did with the link, newest first."""
        path = "/v1/share-links/{}/activity".format(quote(share_link_id))
        return ActivityPage.from_dict(self._t.request("GET", path, query={"limit": limit, "cursor": cursor}).data())

    @overload
    def activity_csv(self, share_link_id: str) -> str: ...
    @overload
    def activity_csv(self, share_link_id: str, *, to: PathOrFile) -> int: ...
    @overload
    def activity_csv(self, share_link_id: str, *, to: None) -> str: ...

    def activity_csv(self, share_link_id: str, *, to: Optional[PathOrFile] = None) -> Union[str, int]:
        """The whole activity log as CSV text; or, with ``to`` (a path or a binary
        file), writes it there and returns the number of bytes."""
        path = "/v1/share-links/{}/activity".format(quote(share_link_id))
        response = self._t.request("GET", path, query={"format": "csv"}, accept="text/csv", stream=True)
        result = _read_or_write(response, to)
        return result.decode("utf-8") if isinstance(result, bytes) else result

    def comments(self, share_link_id: str) -> List[Comment]:
        """Every comment on the link, verified or not, with its author's address."""
        path = "/v1/share-links/{}/comments".format(quote(share_link_id))
        data = self._t.request("GET", path).data()
        return [Comment.from_dict(item) for item in data.get("comments", [])]

    def delete_comment(self, share_link_id: str, comment_id: str) -> None:
        path = "/v1/share-links/{}/comments/{}".format(quote(share_link_id), quote(comment_id))
        self._t.request("DELETE", path)


_CODE_ROUTES = {"agentrix": "/v1/agentrix/tasks/", "tasks": "/v1/tasks/"}


class ShareCodes(_Resource):
    """Share codes (seed 003): ``client.share_codes``.

    The service serves the owner's routes under two prefixes,
    ``/v1/agentrix/tasks/{taskId}/share`` (seed 003's, ``route="agentrix"``, the
    default) and ``/v1/tasks/{taskId}/share`` (``route="tasks"``); both behave alike.
    """

    @staticmethod
    def _path(task_id: str, route: str) -> str:
        try:
            prefix = _CODE_ROUTES[route]
        except KeyError:
            raise ValueError("route must be 'agentrix' or 'tasks', not {!r}".format(route)) from None
        return prefix + quote(task_id) + "/share"

    def create(
        self,
        task_id: str,
        *,
        permissions: Any = UNSET,
        expires_at: Any = UNSET,
        route: str = "agentrix",
    ) -> ShareCodeCreated:
        """Creates the task's share code (a second one rotates it: the old code and its
        sessions stop working).

        ``permissions`` is a dict in the service's camelCase
        (``{"canSendMessage": True}``) or a ``ShareCodePermissions``; an omitted
        permission is false, except ``canViewPr``.
        """
        body = body_of(permissions=permissions, expiresAt=expires_at)
        return ShareCodeCreated.from_dict(self._t.request("POST", self._path(task_id, route), json_body=body).data())

    def get(self, task_id: str, *, route: str = "agentrix") -> ShareCode:
        """The task's live code, its permissions and how often it was used."""
        return ShareCode.from_dict(self._t.request("GET", self._path(task_id, route)).data())

    def revoke(self, task_id: str, *, route: str = "agentrix") -> None:
        """Revokes the code: it and every session it issued stop working at once."""
        self._t.request("DELETE", self._path(task_id, route))

    def exchange(self, code: str) -> "ViewerSession":
        """Exchanges a code for a viewer session (no API key needed)."""
        data = self._t.request("GET", "/v1/auth/share", query={"code": code}, auth=False).data()
        return ViewerSession(self._t.with_token(None), ViewerSessionInfo.from_dict(data))


class ViewerSession:
    """A share code's viewer session: the one task it reaches, as its code allows.

    Made by ``client.share_codes.exchange(code)`` (or ``client.viewer_session(token,
    task_id)`` for a token kept from before). ``permissions`` says what the code
    allows; the service checks it on every request.
    """

    def __init__(self, transport: Transport, info: ViewerSessionInfo) -> None:
        self.info = info
        self._t = transport.with_token(info.token)
        self._tasks = Tasks(self._t)
        self._events = Events(self._t)
        self._artifacts = Artifacts(self._t)
        self._pulls = PullRequests(self._t)

    @property
    def token(self) -> str:
        return self.info.token

    @property
    def task_id(self) -> str:
        return self.info.task_id

    @property
    def permissions(self) -> ShareCodePermissions:
        return self.info.permissions

    @property
    def expires_at(self) -> Optional[str]:
        return self.info.expires_at or None

    def get_task(self) -> Task:
        """The task (without its owner's data)."""
        return self._tasks.get(self.task_id)

    def list_events(
        self, *, after: Optional[int] = None, type: Optional[str] = None, limit: Optional[int] = None
    ) -> EventPage:
        """The task's events (all but private ones), in order."""
        return self._events.list(self.task_id, after=after, type=type, limit=limit)

    def stream_events(
        self,
        *,
        after: Optional[int] = None,
        last_event_id: Optional[Union[int, str]] = None,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> EventStream:
        """Follows the task live; ends with ``end``, or ``revoked`` when the code stops working."""
        return self._events.stream(self.task_id, after=after, last_event_id=last_event_id, read_timeout=read_timeout)

    def send_message(self, content: str) -> Event:
        """Sends the task a message (``canSendMessage``)."""
        return self._tasks.send_message(self.task_id, content)

    def list_artifacts(self) -> List[Artifact]:
        return self._artifacts.list(self.task_id)

    @overload
    def download_artifact(self, artifact_id: str) -> bytes: ...
    @overload
    def download_artifact(self, artifact_id: str, *, to: PathOrFile) -> int: ...
    @overload
    def download_artifact(self, artifact_id: str, *, to: None) -> bytes: ...

    def download_artifact(self, artifact_id: str, *, to: Optional[PathOrFile] = None) -> Union[bytes, int]:
        return self._artifacts.download(self.task_id, artifact_id, to=to)

    def list_pull_requests(self) -> List[PullRequest]:
        """The task's pull requests (``canViewPr``)."""
        return self._pulls.list(self.task_id)

    def get_pull_request(self, number: int) -> PullRequest:
        """A pull request with its diff (``canViewPr``)."""
        return self._pulls.get(self.task_id, number)

    def create_pull_request(self, title: str, head_branch: str, *, description: Optional[str] = UNSET) -> PullRequest:
        """Opens a pull request (``canCreatePr``)."""
        return self._pulls.create(self.task_id, title, head_branch, description=description)

    def approve_pull_request(self, number: int) -> PullRequest:
        """Approves a pull request (``canApprovePr``)."""
        return self._pulls.approve(self.task_id, number)

    def merge_pull_request(self, number: int) -> PullRequest:
        """Merges a pull request into the base branch (``canMergePr``)."""
        return self._pulls.merge(self.task_id, number)


class Webhooks(_Resource):
    """Webhook endpoints: ``client.webhooks``."""

    def create(self, url: str, events: Sequence[str], *, description: Optional[str] = UNSET) -> Webhook:
        """Registers an endpoint; the answer's ``secret`` is shown this once."""
        body = body_of(url=url, events=list(events), description=description)
        return Webhook.from_dict(self._t.request("POST", "/v1/webhooks", json_body=body).data())

    def list(self) -> List[Webhook]:
        data = self._t.request("GET", "/v1/webhooks").data()
        return [Webhook.from_dict(item) for item in data.get("webhooks", [])]

    def get(self, webhook_id: str) -> Webhook:
        return Webhook.from_dict(self._t.request("GET", "/v1/webhooks/" + quote(webhook_id)).data())

    def update(
        self,
        webhook_id: str,
        *,
        url: Optional[str] = UNSET,
        events: Optional[Sequence[str]] = UNSET,
        description: Optional[str] = UNSET,
        status: Optional[str] = UNSET,
        rotate_secret: bool = UNSET,
    ) -> Webhook:
        """Changes what is given (``status``: ``active`` or ``disabled``;
        ``rotate_secret=True`` answers a new ``secret``)."""
        body = body_of(
            url=url,
            events=list(events) if isinstance(events, (list, tuple)) else events,
            description=description,
            status=status,
            rotate_secret=rotate_secret,
        )
        return Webhook.from_dict(self._t.request("PATCH", "/v1/webhooks/" + quote(webhook_id), json_body=body).data())

    def delete(self, webhook_id: str) -> None:
        self._t.request("DELETE", "/v1/webhooks/" + quote(webhook_id))

    def deliveries(self, webhook_id: str, *, limit: Optional[int] = None) -> List[WebhookDelivery]:
        """Every delivery attempt to the endpoint, newest first."""
        path = "/v1/webhooks/{}/deliveries".format(quote(webhook_id))
        data = self._t.request("GET", path, query={"limit": limit}).data()
        return [WebhookDelivery.from_dict(item) for item in data.get("deliveries", [])]

    def test(self, webhook_id: str) -> TestEventQueued:
        """Queues a ``webhook.test`` event for the endpoint."""
        path = "/v1/webhooks/{}/test".format(quote(webhook_id))
        return TestEventQueued.from_dict(self._t.request("POST", path).data())


class SharingSettings(_Resource):
    """The owner's sharing policy: ``client.settings.sharing``."""

    def get(self) -> SharingPolicy:
        return SharingPolicy.from_dict(self._t.request("GET", "/v1/settings/sharing").data())

    def put(
        self,
        *,
        max_link_lifetime_days: Optional[int] = UNSET,
        require_password: Optional[bool] = UNSET,
        require_audience: Optional[bool] = UNSET,
        allow_share_code_write: Optional[bool] = UNSET,
    ) -> SharingPolicy:
        """Replaces the whole policy: a field not given takes its default."""
        body = body_of(
            max_link_lifetime_days=max_link_lifetime_days,
            require_password=require_password,
            require_audience=require_audience,
            allow_share_code_write=allow_share_code_write,
        )
        return SharingPolicy.from_dict(self._t.request("PUT", "/v1/settings/sharing", json_body=body).data())


class Settings:
    """The owner's settings: ``client.settings.sharing``."""

    def __init__(self, transport: Transport) -> None:
        self.sharing = SharingSettings(transport)


class Otlp(_Resource):
    """OpenTelemetry trace export: ``client.otlp``."""

    def export_traces(
        self,
        body: Union[Mapping[str, Any], bytes, str],
        *,
        content_type: Optional[str] = None,
        content_encoding: Optional[str] = None,
    ) -> Union[Dict[str, Any], bytes]:
        """Sends an OTLP ``ExportTraceServiceRequest``.

        ``body`` is a dict (sent as OTLP JSON), JSON text, or the bytes of an export
        (``content_type`` ``"application/x-protobuf"`` by default, or
        ``"application/json"``; ``content_encoding="gzip"`` for compressed bytes).
        Returns the ``ExportTraceServiceResponse``: a dict for JSON (its
        ``partialSuccess`` counts refused spans), the protobuf bytes otherwise.
        """
        if isinstance(body, Mapping):
            data = json.dumps(to_json(body)).encode("utf-8")
            content_type = content_type or "application/json"
        elif isinstance(body, str):
            data = body.encode("utf-8")
            content_type = content_type or "application/json"
        else:
            data = bytes(body)
            content_type = content_type or "application/x-protobuf"
        headers = {"Content-Encoding": content_encoding}
        response = self._t.request(
            "POST", "/otlp/v1/traces", data=data, content_type=content_type, headers=headers, accept=content_type
        )
        if response.headers.get("content-type", "").startswith("application/json"):
            value = response.json()
            return value if isinstance(value, dict) else {}
        return response.content


class LinkViewer:
    """A share link as its viewers use it (the routes under ``/s/{token}``).

    Made by ``client.link(url)`` from a link's ``url`` or ``short_url`` (or its
    token). Sends no API key: these routes are the public ones.
    """

    def __init__(self, transport: Transport, url_or_token: str) -> None:
        if url_or_token.startswith(("http://", "https://")):
            parts = urllib.parse.urlsplit(url_or_token)
            base = "{}://{}".format(parts.scheme, parts.netloc)
            path = parts.path.rstrip("/")
            if "/s/" not in path:
                raise ValueError("not a share link URL: {!r}".format(url_or_token))
            prefix, _, token = path.rpartition("/s/")
            self.base = base + prefix
            self.token = urllib.parse.unquote(token)
        else:
            self.base = transport.server
            self.token = url_or_token
        self._t = Transport(self.base, None, transport.timeout, transport.user_agent)

    @property
    def url(self) -> str:
        return "{}/s/{}".format(self.base, quote(self.token))

    def _path(self, rest: str = "") -> str:
        return "/s/" + quote(self.token) + rest

    def open(self, *, password: Optional[str] = None, viewer_token: Optional[str] = None) -> SharedView:
        """Opens the link as JSON; each opening spends one view.

        ``password`` for a protected link (``X-Share-Password``); ``viewer_token``
        from ``confirm_verification`` for a link limited to an audience
        (``X-Share-Viewer``). A short URL leads to its link.
        """
        headers = {"X-Share-Password": password, "X-Share-Viewer": viewer_token}
        return SharedView.from_dict(self._t.request("GET", self._path(), headers=headers).data())

    def open_markdown(self, *, password: Optional[str] = None, viewer_token: Optional[str] = None) -> str:
        """The same view as one markdown document (spends a view the same way)."""
        headers = {"X-Share-Password": password, "X-Share-Viewer": viewer_token}
        return self._t.request("GET", self._path(), headers=headers, accept="text/markdown").text

    def reveal(self, *, password: Optional[str] = None) -> str:
        """Submits the page's form (the password, or Reveal of a view-limited link) as a
        browser does, and returns the page (HTML) it answers."""
        form = urllib.parse.urlencode({"password": password} if password is not None else {}).encode()
        response = self._t.request(
            "POST",
            self._path(),
            data=form,
            content_type="application/x-www-form-urlencoded",
            accept="text/html",
        )
        return response.text

    def _download(self, path: str, grant: Optional[str], to: Optional[PathOrFile]) -> Union[bytes, int]:
        query = {"grant": grant} if grant is not None else None
        return _read_or_write(self._t.request("GET", path, query=query, accept="*/*", stream=True), to)

    @overload
    def download(self, artifact: Union[SharedArtifact, str], *, grant: Optional[str] = None) -> bytes: ...
    @overload
    def download(self, artifact: Union[SharedArtifact, str], *, grant: Optional[str] = None, to: PathOrFile) -> int: ...
    @overload
    def download(self, artifact: Union[SharedArtifact, str], *, grant: Optional[str] = None, to: None) -> bytes: ...

    def download(
        self,
        artifact: Union[SharedArtifact, str],
        *,
        grant: Optional[str] = None,
        to: Optional[PathOrFile] = None,
    ) -> Union[bytes, int]:
        """Downloads a file of the view: a ``SharedArtifact`` of ``open()`` (its
        ``download_url`` carries the grant), its ``download_url``, or an artifact id
        with the view's ``grant``. Returns the bytes, or with ``to`` writes them there
        and returns how many."""
        if isinstance(artifact, SharedArtifact):
            return self._download(artifact.download_url, grant, to)
        if artifact.startswith(("http://", "https://")):
            return self._download(artifact, grant, to)
        if grant is None:
            raise ValueError("downloading by artifact id needs the view's grant")
        return self._download(self._path("/artifacts/" + quote(artifact)), grant, to)

    @overload
    def download_all(self, grant: str) -> bytes: ...
    @overload
    def download_all(self, grant: str, *, to: PathOrFile) -> int: ...
    @overload
    def download_all(self, grant: str, *, to: None) -> bytes: ...

    def download_all(self, grant: str, *, to: Optional[PathOrFile] = None) -> Union[bytes, int]:
        """Every file of the link in one zip (the view's ``grant``)."""
        return self._download(self._path("/artifacts.zip"), grant, to)

    def post_comment(self, *, name: str, email: str, content: str, grant: str) -> CommentPending:
        """Leaves a comment (``allow_comments``); it shows once its author opens the
        confirmation link mailed to ``email``."""
        body = {"name": name, "email": email, "content": content, "grant": grant}
        return CommentPending.from_dict(self._t.request("POST", self._path("/comments"), json_body=body).data())

    def verify_comment(self, code: str) -> str:
        """Confirms a comment with the ``code`` of its mailed confirmation link; returns
        the page (HTML) the service answers."""
        response = self._t.request("GET", self._path("/comments/verify"), query={"code": code}, accept="text/html")
        return response.text

    def request_verification(self, email: str) -> VerificationPending:
        """Asks for a code proving ``email`` to a link limited to an audience; the
        answer is the same for any address, and only members are mailed."""
        response = self._t.request("POST", self._path("/verification"), json_body={"email": email})
        return VerificationPending.from_dict(response.data())

    def confirm_verification(self, email: str, code: str) -> ViewerToken:
        """Trades the mailed code for a viewer token (pass it to ``open(viewer_token=…)``)."""
        body = {"email": email, "code": code}
        response = self._t.request("POST", self._path("/verification/confirm"), json_body=body)
        return ViewerToken.from_dict(response.data())


class AgentshareClient:
    """A client of one agentshare server.

    ``api_key`` defaults to ``$AGENTSHARE_API_KEY``; ``server`` to
    ``$AGENTSHARE_SERVER``, else ``http://127.0.0.1:8080``. ``timeout`` bounds each
    request (connecting and every read) in seconds.
    """

    def __init__(
        self,
        api_key: Optional[str] = None,
        *,
        server: Optional[str] = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if api_key is None:
            api_key = os.environ.get("AGENTSHARE_API_KEY") or None
        if server is None:
            server = os.environ.get("AGENTSHARE_SERVER") or DEFAULT_SERVER
        self.api_key = api_key
        self.server = server.rstrip("/")
        self._t = Transport(self.server, api_key, timeout)
        self.tasks = Tasks(self._t)
        self.events = Events(self._t)
        self.artifacts = Artifacts(self._t)
        self.pull_requests = PullRequests(self._t)
        self.share_links = ShareLinks(self._t)
        self.share_codes = ShareCodes(self._t)
        self.webhooks = Webhooks(self._t)
        self.settings = Settings(self._t)
        self.otlp = Otlp(self._t)

    def __repr__(self) -> str:
        return "AgentshareClient(server={!r})".format(self.server)

    def health(self) -> Health:
        """``GET /healthz``: the service and its database can serve (else an error, 503)."""
        return Health.from_dict(self._t.request("GET", "/healthz", auth=False).data())

    def ready(self) -> Readiness:
        """``GET /readyz``: whether this instance should be sent traffic (database,
        schema, view writer, workers). A not-ready instance (503) is an answer too:
        ``ready`` is then False and ``reasons`` says why."""
        try:
            return Readiness.from_dict(self._t.request("GET", "/readyz", auth=False).data())
        except AgentshareError as error:
            answer = _json_object(error.body) if error.status == 503 else None
            if answer is None or "checks" not in answer:
                raise
            return Readiness.from_dict(answer)

    def link(self, url_or_token: str) -> LinkViewer:
        """The share link at ``url_or_token`` (its ``url``, ``short_url`` or token), as a
        viewer opens it."""
        return LinkViewer(self._t, url_or_token)

    def viewer_session(self, token: str, task_id: str) -> ViewerSession:
        """A viewer session from a token kept from ``share_codes.exchange``."""
        return ViewerSession(self._t.with_token(None), ViewerSessionInfo(token=token, task_id=task_id))


def _json_object(text: str) -> Optional[Dict[str, Any]]:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


AgentrixClient = AgentshareClient
"""The same client under the name of seed 001's examples."""
