"""Errors raised by the client."""

from __future__ import annotations

import json
from typing import Any, Dict, Mapping, Optional, Tuple

__all__ = [
    "AgentshareError",
    "AgentshareConnectionError",
    "AgentshareTimeoutError",
]


class AgentshareError(Exception):
    """The service refused a request, or could not be reached.

    ``str(error)`` is the service's message, followed by why the field at fault
    was refused when the service says (``details.issue``): ``Invalid request
    parameters: expires_at must be in the future``. The service's error is also
    kept whole:

    - ``status``: the HTTP status (``None`` when no answer came);
    - ``code``: the service's code, e.g. ``"INVALID_REQUEST"``, ``"TASK_NOT_FOUND"``,
      ``"INVALID_SHARE_CODE"``;
    - ``message``: what went wrong, in words;
    - ``details``: the error's ``details`` object (``{}`` when it has none);
    - ``field``: ``details["field"]``, the request field at fault, if any;
    - ``error_type``: the share-code routes' ``error`` (``"validation_error"``,
      ``"unauthorized"``…), ``None`` elsewhere;
    - ``retry_after``: seconds from a ``Retry-After`` header, if any;
    - ``body``: the answer's body as text.
    """

    def __init__(
        self,
        message: str,
        *,
        status: Optional[int] = None,
        code: Optional[str] = None,
        details: Optional[Mapping[str, Any]] = None,
        error_type: Optional[str] = None,
        retry_after: Optional[int] = None,
        headers: Optional[Mapping[str, str]] = None,
        body: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details: Dict[str, Any] = dict(details or {})
        self.error_type = error_type
        self.retry_after = retry_after
        self.headers: Dict[str, str] = dict(headers or {})
        self.body = body

    @property
    def field(self) -> Optional[str]:
        """``details.field``: the request field the error is about, if any."""
        value = self.details.get("field")
        return value if isinstance(value, str) else None

    @property
    def issue(self) -> Optional[str]:
        """``details.issue``: why the field at fault was refused, if said."""
        value = self.details.get("issue")
        return value if isinstance(value, str) and value else None

    def __str__(self) -> str:
        issue = self.issue
        if issue is None or issue in self.message:
            return self.message
        return "{}: {}".format(self.message, issue)

    def __repr__(self) -> str:
        return "{}(status={!r}, code={!r}, message={!r}, details={!r})".format(
            type(self).__name__, self.status, self.code, self.message, self.details
        )

    @classmethod
    def from_response(cls, status: int, headers: Mapping[str, str], body: bytes) -> "AgentshareError":
        """Reads any of the service's error shapes.

        The owner API answers ``{"success": false, "error": {"code", "message",
        "details"}}``; the share-code API ``{"code", "error", "message"}``; the
        OTLP route a ``google.rpc.Status`` (``{"code": 3, "message"}``). Pages
        (HTML) and empty bodies give the status line.
        """
        text = body.decode("utf-8", "replace")
        retry_after = _retry_after(headers)
        parsed: Any = None
        try:
            parsed = json.loads(text) if text.strip() else None
        except ValueError:
            parsed = None
        code: Optional[str] = None
        message: Optional[str] = None
        details: Dict[str, Any] = {}
        error_type: Optional[str] = None
        if isinstance(parsed, dict):
            envelope = parsed.get("error")
            if isinstance(envelope, dict):
                code = _text(envelope.get("code"))
                message = _text(envelope.get("message"))
                if isinstance(envelope.get("details"), dict):
                    details = envelope["details"]
            else:
                code = _text(parsed.get("code"))
                message = _text(parsed.get("message"))
                error_type = _text(envelope)
                if isinstance(parsed.get("details"), dict):
                    details = parsed["details"]
        elif _content_type(headers) == "application/x-protobuf":
            decoded = _rpc_status(body)
            if decoded is not None:
                code, message = decoded
        if not message:
            message = "HTTP {}".format(status)
        return cls(
            message,
            status=status,
            code=code,
            details=details,
            error_type=error_type,
            retry_after=retry_after,
            headers=headers,
            body=text,
        )


class AgentshareConnectionError(AgentshareError):
    """The service could not be reached (no answer, so ``status`` is ``None``)."""


class AgentshareTimeoutError(AgentshareConnectionError, TimeoutError):
    """No answer, or no more of a stream, within the time allowed."""


def _text(value: Any) -> Optional[str]:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _content_type(headers: Mapping[str, str]) -> str:
    for name, value in headers.items():
        if name.lower() == "content-type":
            return value.split(";", 1)[0].strip().lower()
    return ""


def _rpc_status(body: bytes) -> Optional[Tuple[Optional[str], Optional[str]]]:
    """``code`` and ``message`` of a protobuf ``google.rpc.Status``, as the OTLP route
    answers a protobuf request; ``None`` when the body is not one."""
    code: Optional[str] = None
    message: Optional[str] = None
    at = 0

    def varint() -> int:
        nonlocal at
        value, shift = 0, 0
        while True:
            if at >= len(body) or shift > 63:
                raise ValueError("truncated")
            byte = body[at]
            at += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7

    try:
        while at < len(body):
            key = varint()
            number, wire = key >> 3, key & 7
            if wire == 0:
                value = varint()
                if number == 1:
                    code = str(value)
            elif wire == 2:
                length = varint()
                chunk = body[at : at + length]
                if len(chunk) != length:
                    return None
                at += length
                if number == 2:
                    message = chunk.decode("utf-8", "replace")
            elif wire == 1:
                at += 8
            elif wire == 5:
                at += 4
            else:
                return None
    except ValueError:
        return None
    return code, message


def _retry_after(headers: Mapping[str, str]) -> Optional[int]:
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return int(value.strip())
            except ValueError:
                return None
    return None
