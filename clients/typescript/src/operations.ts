/**
 * Every operation of the server's OpenAPI document (by `operationId`) and the
 * public method of {@link AgentshareClient} that performs it, as a path from the
 * client (`shareLinks.create` is `client.shareLinks.create`). Methods of a
 * viewer session (`client.shareCodes.exchange(code)`) do the same through its token.
 */
export const OPERATIONS: Readonly<Record<string, string>> = Object.freeze({
  healthz: "health",
  readyz: "ready",
  export_traces: "otlp.exportTraces",

  create_task: "tasks.create",
  get_task: "tasks.get",
  update_task: "tasks.update",
  list_tasks: "tasks.list",
  send_message: "tasks.sendMessage",

  append_event: "events.append",
  list_events: "events.list",
  stream_events: "events.stream",

  upload_artifact: "artifacts.upload",
  list_artifacts: "artifacts.list",
  download_artifact: "artifacts.download",
  delete_artifact: "artifacts.delete",

  create_share_link: "shareLinks.create",
  preview_share_link: "shareLinks.preview",
  get_share_link: "shareLinks.get",
  list_share_links: "shareLinks.list",
  update_share_link: "shareLinks.update",
  revoke_share_link: "shareLinks.revoke",
  revoke_all_share_links: "shareLinks.revokeAll",
  share_link_analytics: "shareLinks.analytics",
  share_link_activity: "shareLinks.activity",
  list_comments: "shareLinks.listComments",
  delete_comment: "shareLinks.deleteComment",

  open_link: "linkViewer.open",
  submit: "linkViewer.reveal",
  download: "linkViewer.download",
  download_all: "linkViewer.downloadAll",
  post_comment: "linkViewer.postComment",
  verify_comment: "linkViewer.verifyComment",
  request_verification: "linkViewer.requestVerification",
  confirm_verification: "linkViewer.confirmVerification",

  get_sharing_policy: "settings.getSharingPolicy",
  put_sharing_policy: "settings.setSharingPolicy",

  create_share_code: "shareCodes.create",
  get_share_code_agentrix: "shareCodes.get",
  revoke_share_code_agentrix: "shareCodes.revoke",
  create_share_code_tasks: "shareCodes.create",
  get_share_code: "shareCodes.get",
  revoke_share_code: "shareCodes.revoke",
  exchange_share_code: "shareCodes.exchange",

  list_pull_requests: "pullRequests.list",
  create_pull_request: "pullRequests.create",
  get_pull_request: "pullRequests.get",
  approve_pull_request: "pullRequests.approve",
  merge_pull_request: "pullRequests.merge",

  create_webhook: "webhooks.create",
  list_webhooks: "webhooks.list",
  get_webhook: "webhooks.get",
  update_webhook: "webhooks.update",
  delete_webhook: "webhooks.delete",
  list_deliveries: "webhooks.deliveries",
  send_test_event: "webhooks.test",
});
