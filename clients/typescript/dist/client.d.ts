import { type FetchFunction } from "./http.js";
import { ArtifactsApi, EventsApi, LinkViewerApi, OtlpApi, PullRequestsApi, SettingsApi, ShareCodesApi, ShareLinksApi, TasksApi, WebhooksApi } from "./resources.js";
import type { Health, Readiness, RequestOptions } from "./types.js";
export interface AgentshareClientOptions {
    /** An API key from `agentshare keys create` (`ask_…`). Without one, only the routes open to anyone work (links, code exchange, health). */
    apiKey?: string;
    /** The server's base URL; default `AGENTSHARE_SERVER` from the environment, else `http://127.0.0.1:8080`. */
    server?: string;
    /** The `fetch` to call; default the global one. */
    fetch?: FetchFunction;
}
/** A client of an agentshare server. */
export declare class AgentshareClient {
    #private;
    /** The server's base URL, without a trailing slash. */
    readonly server: string;
    readonly tasks: TasksApi;
    readonly events: EventsApi;
    readonly artifacts: ArtifactsApi;
    readonly shareLinks: ShareLinksApi;
    readonly shareCodes: ShareCodesApi;
    readonly pullRequests: PullRequestsApi;
    readonly webhooks: WebhooksApi;
    readonly settings: SettingsApi;
    /** What anyone holding a share link can do with it (`/s/{token}`). */
    readonly linkViewer: LinkViewerApi;
    readonly otlp: OtlpApi;
    constructor(options?: AgentshareClientOptions);
    /** `GET /healthz`: `{status: "ok", database}`; throws with status 503 when the service can't serve. */
    health(options?: RequestOptions): Promise<Health>;
    /**
     * `GET /readyz`: whether this instance should be sent traffic (database, schema,
     * view writer, workers). A not-ready instance (503) is an answer too: `status` is
     * then `not_ready` and `reasons` says why.
     */
    ready(options?: RequestOptions): Promise<Readiness>;
}
/** The name seed 001's examples use. */
export declare const AgentrixClient: typeof AgentshareClient;
/** The name seed 001's examples use. */
export type AgentrixClient = AgentshareClient;
