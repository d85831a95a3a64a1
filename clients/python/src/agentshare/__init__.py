"""Python client for agentshare: share what an AI agent did, safely.

    from agentshare import AgentshareClient

    client = AgentshareClient(api_key="ask_…")          # server: $AGENTSHARE_SERVER
    link = client.share_links.create(task_id="task_…", max_views=5)
    print(link.url)
"""

from ._http import UNSET, Response, Unset
from .client import (
    DEFAULT_SERVER,
    AgentrixClient,
    AgentshareClient,
    Artifacts,
    Events,
    EventStream,
    LinkViewer,
    Otlp,
    PullRequests,
    Settings,
    ShareCodes,
    ShareLinks,
    SharingSettings,
    Tasks,
    ViewerSession,
    Webhooks,
)
from .errors import AgentshareConnectionError, AgentshareError, AgentshareTimeoutError
from .models import *  # noqa: F401,F403
from .models import __all__ as _models
from .operations import OPERATIONS

__version__ = "0.1.0"

__all__ = [
    "UNSET",
    "Unset",
    "Response",
    "DEFAULT_SERVER",
    "AgentshareClient",
    "AgentrixClient",
    "Tasks",
    "Events",
    "EventStream",
    "Artifacts",
    "PullRequests",
    "ShareLinks",
    "ShareCodes",
    "ViewerSession",
    "LinkViewer",
    "Webhooks",
    "Settings",
    "SharingSettings",
    "Otlp",
    "AgentshareError",
    "AgentshareConnectionError",
    "AgentshareTimeoutError",
    "OPERATIONS",
    *_models,
]
