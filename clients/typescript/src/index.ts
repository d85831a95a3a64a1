export { AgentshareClient, AgentrixClient, type AgentshareClientOptions } from "./client.js";
export { AgentshareError } from "./errors.js";
export type { FetchFunction } from "./http.js";
export { OPERATIONS } from "./operations.js";
export {
  ArtifactsApi,
  EventsApi,
  LinkViewerApi,
  OtlpApi,
  PullRequestsApi,
  SettingsApi,
  ShareCodesApi,
  ShareLinksApi,
  TasksApi,
  ViewerSession,
  WebhooksApi,
} from "./resources.js";
export type * from "./types.js";
