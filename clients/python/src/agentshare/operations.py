"""Which public method performs each operation of the service's OpenAPI document.

``OPERATIONS`` maps every ``operationId`` of ``/openapi.json`` to the method that
performs it, as ``Class.method`` (with the argument that selects the route where
one method serves two). The test suite checks it against a live server's document
both ways: an operation missing here, or an entry naming a method that does not
exist or an operation the server no longer has, fails it.
"""

from typing import Dict

__all__ = ["OPERATIONS"]

OPERATIONS: Dict[str, str] = {
    # Operations
    "healthz": "AgentshareClient.health",
    "readyz": "AgentshareClient.ready",
    # Tasks, events, messages, artifacts
    "create_task": "Tasks.create",
    "list_tasks": "Tasks.list",
    "get_task": "Tasks.get",
    "update_task": "Tasks.update",
    "send_message": "Tasks.send_message",
    "append_event": "Events.append",
    "list_events": "Events.list",
    "stream_events": "Events.stream",
    "upload_artifact": "Artifacts.upload",
    "list_artifacts": "Artifacts.list",
    "download_artifact": "Artifacts.download",
    "delete_artifact": "Artifacts.delete",
    # Pull requests
    "list_pull_requests": "PullRequests.list",
    "create_pull_request": "PullRequests.create",
    "get_pull_request": "PullRequests.get",
    "approve_pull_request": "PullRequests.approve",
    "merge_pull_request": "PullRequests.merge",
    # Share links (owner)
    "create_share_link": "ShareLinks.create",
    "preview_share_link": "ShareLinks.preview",
    "list_share_links": "ShareLinks.list",
    "get_share_link": "ShareLinks.get",
    "update_share_link": "ShareLinks.update",
    "revoke_share_link": "ShareLinks.revoke",
    "revoke_all_share_links": "ShareLinks.revoke_all",
    "share_link_analytics": "ShareLinks.analytics",
    "share_link_activity": "ShareLinks.activity",
    "list_comments": "ShareLinks.comments",
    "delete_comment": "ShareLinks.delete_comment",
    # Share links (viewers, /s/{token})
    "open_link": "LinkViewer.open",
    "submit": "LinkViewer.reveal",
    "download": "LinkViewer.download",
    "download_all": "LinkViewer.download_all",
    "post_comment": "LinkViewer.post_comment",
    "verify_comment": "LinkViewer.verify_comment",
    "request_verification": "LinkViewer.request_verification",
    "confirm_verification": "LinkViewer.confirm_verification",
    # Share codes and viewer sessions
    "create_share_code": "ShareCodes.create(route='agentrix')",
    "get_share_code_agentrix": "ShareCodes.get(route='agentrix')",
    "revoke_share_code_agentrix": "ShareCodes.revoke(route='agentrix')",
    "create_share_code_tasks": "ShareCodes.create(route='tasks')",
    "get_share_code": "ShareCodes.get(route='tasks')",
    "revoke_share_code": "ShareCodes.revoke(route='tasks')",
    "exchange_share_code": "ShareCodes.exchange",
    # Webhooks
    "create_webhook": "Webhooks.create",
    "list_webhooks": "Webhooks.list",
    "get_webhook": "Webhooks.get",
    "update_webhook": "Webhooks.update",
    "delete_webhook": "Webhooks.delete",
    "list_deliveries": "Webhooks.deliveries",
    "send_test_event": "Webhooks.test",
    # Settings
    "get_sharing_policy": "SharingSettings.get",
    "put_sharing_policy": "SharingSettings.put",
    # OpenTelemetry
    "export_traces": "Otlp.export_traces",
}
