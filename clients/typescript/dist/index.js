export { AgentshareClient, AgentrixClient } from "./client.js";
export { AgentshareError } from "./errors.js";
export { OPERATIONS } from "./operations.js";
export { ArtifactsApi, EventsApi, LinkViewerApi, OtlpApi, PullRequestsApi, SettingsApi, ShareCodesApi, ShareLinksApi, TasksApi, ViewerSession, WebhooksApi, } from "./resources.js";
