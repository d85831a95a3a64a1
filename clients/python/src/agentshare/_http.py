"""The HTTP layer: requests over urllib, JSON bodies, the service's envelopes."""

from __future__ import annotations

import datetime as _dt
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import IO, Any, Dict, Iterator, Mapping, Optional, Union

from .errors import AgentshareConnectionError, AgentshareError, AgentshareTimeoutError
from .models import Model

__all__ = ["UNSET", "Unset"]

USER_AGENT = "agentshare-python/0.1.0"


class Unset:
    """The type of ``UNSET``: an argument that was not given.

    Where ``None`` means JSON ``null`` (e.g. ``password=None`` removes a link's
    password), leaving an argument ``UNSET`` leaves it out of the request.
    """

    _instance: Optional["Unset"] = None

    def __new__(cls) -> "Unset":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "UNSET"


UNSET: Any = Unset()


def to_json(value: Any) -> Any:
    """A request value as JSON: models as objects, datetimes as ISO 8601."""
    if isinstance(value, Model):
        return value.to_dict()
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items() if v is not UNSET}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def body_of(**fields: Any) -> Dict[str, Any]:
    """A JSON object of the fields given: ``UNSET`` ones left out, ``None`` as null."""
    return {name: to_json(value) for name, value in fields.items() if value is not UNSET}


def quote(segment: Union[str, int]) -> str:
    return urllib.parse.quote(str(segment), safe="")


class Response:
    """An answer of the service: its status, headers and body (read or not)."""

    def __init__(self, status: int, headers: Mapping[str, str], raw: Any, url: str) -> None:
        self.status = status
        self.headers: Dict[str, str] = {k.lower(): v for k, v in headers.items()}
        self.url = url
        self._raw = raw
        self._body: Optional[bytes] = None

    @property
    def content(self) -> bytes:
        if self._body is None:
            try:
                self._body = self._raw.read() if self._raw is not None else b""
            finally:
                self.close()
        return self._body

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        text = self.text
        return json.loads(text) if text.strip() else None

    def data(self) -> Any:
        """The ``data`` of a ``{"success": true, "data": …}`` envelope, or the whole body."""
        value = self.json()
        if isinstance(value, dict) and "success" in value and "data" in value:
            return value["data"]
        return value

    def iter_bytes(self, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
        try:
            while True:
                chunk = self._raw.read(chunk_size)
                if not chunk:
                    return
                yield chunk
        finally:
            self.close()

    def readline(self) -> bytes:
        line: bytes = self._raw.readline()
        return line

    def close(self) -> None:
        if self._raw is not None:
            try:
                self._raw.close()
            except Exception:  # pragma: no cover - closing a broken connection
                pass

    def __enter__(self) -> "Response":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Transport:
    """Sends requests to one server with one bearer token (or none)."""

    def __init__(
        self,
        server: str,
        token: Optional[str],
        timeout: float,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.server = server.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.user_agent = user_agent
        self._opener = urllib.request.build_opener()

    def with_token(self, token: Optional[str]) -> "Transport":
        return Transport(self.server, token, self.timeout, self.user_agent)

    def url(self, path: str, query: Optional[Mapping[str, Any]] = None) -> str:
        url = path if path.startswith(("http://", "https://")) else self.server + path
        if query:
            pairs = []
            for name, value in query.items():
                if value is None or value is UNSET:
                    continue
                if isinstance(value, bool):
                    value = "true" if value else "false"
                pairs.append((name, str(value)))
            if pairs:
                url += ("&" if "?" in url else "?") + urllib.parse.urlencode(pairs)
        return url

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Optional[Mapping[str, Any]] = None,
        json_body: Any = UNSET,
        data: Union[bytes, IO[bytes], None] = None,
        content_type: Optional[str] = None,
        headers: Optional[Mapping[str, Optional[str]]] = None,
        auth: bool = True,
        accept: str = "application/json",
        stream: bool = False,
        timeout: Optional[float] = None,
    ) -> Response:
        """Sends a request; raises ``AgentshareError`` for any status of 400 or more."""
        url = self.url(path, query)
        send: Dict[str, str] = {"User-Agent": self.user_agent, "Accept": accept}
        if json_body is not UNSET:
            data = json.dumps(to_json(json_body)).encode("utf-8")
            content_type = "application/json"
        if content_type is not None:
            send["Content-Type"] = content_type
        if auth and self.token:
            send["Authorization"] = "Bearer " + self.token
        for name, value in (headers or {}).items():
            if value is not None:
                send[name] = value
        if data is None and method in ("POST", "PUT", "PATCH"):
            data = b""
        request = urllib.request.Request(url, data=data, headers=send, method=method)
        try:
            raw = self._opener.open(request, timeout=self.timeout if timeout is None else timeout)
        except urllib.error.HTTPError as err:
            status = err.code
            err_headers = dict(err.headers.items()) if err.headers is not None else {}
            if status < 400:
                return Response(status, err_headers, err, url)
            try:
                body = err.read()
            except Exception:
                body = b""
            finally:
                err.close()
            raise AgentshareError.from_response(status, err_headers, body) from None
        except (socket.timeout, TimeoutError) as err:
            raise AgentshareTimeoutError(
                "no answer from {} within {} s".format(self.server, self.timeout if timeout is None else timeout)
            ) from err
        except urllib.error.URLError as err:
            reason = err.reason
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise AgentshareTimeoutError("no answer from {}: {}".format(self.server, reason)) from err
            raise AgentshareConnectionError("cannot reach {}: {}".format(self.server, reason)) from err
        except OSError as err:
            raise AgentshareConnectionError("cannot reach {}: {}".format(self.server, err)) from err
        response = Response(raw.status, dict(raw.headers.items()), raw, url)
        if not stream:
            try:
                response.content  # read it all now, closing the connection
            except (socket.timeout, TimeoutError) as err:
                raise AgentshareTimeoutError("the answer from {} stopped coming".format(self.server)) from err
            except OSError as err:
                raise AgentshareConnectionError("the answer from {} broke off: {}".format(self.server, err)) from err
        return response
