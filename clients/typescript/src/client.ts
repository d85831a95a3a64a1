import { AgentshareError } from "./errors.js";
import { DEFAULT_SERVER, serverFromEnvironment, Transport, type FetchFunction } from "./http.js";
import {
  ArtifactsApi,
  EventsApi,
  LinkViewerApi,
  OtlpApi,
  PullRequestsApi,
  SettingsApi,
  ShareCodesApi,
  ShareLinksApi,
  TasksApi,
  WebhooksApi,
} from "./resources.js";
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
export class AgentshareClient {
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
  readonly #http: Transport;

  constructor(options: AgentshareClientOptions = {}) {
    const http = new Transport(options.server || serverFromEnvironment() || DEFAULT_SERVER, options.apiKey, options.fetch);
    this.#http = http;
    this.server = http.server;
    this.tasks = new TasksApi(http);
    this.events = new EventsApi(http);
    this.artifacts = new ArtifactsApi(http);
    this.shareLinks = new ShareLinksApi(http);
    this.shareCodes = new ShareCodesApi(http);
    this.pullRequests = new PullRequestsApi(http);
    this.webhooks = new WebhooksApi(http);
    this.settings = new SettingsApi(http);
    this.linkViewer = new LinkViewerApi(http.withToken(undefined));
    this.otlp = new OtlpApi(http);
  }

  /** `GET /healthz`: `{status: "ok", database}`; throws with status 503 when the service can't serve. */
  health(options: RequestOptions = {}): Promise<Health> {
    return this.#http.json("GET", "/healthz", { auth: false, signal: options.signal });
  }

  /**
   * `GET /readyz`: whether this instance should be sent traffic (database, schema,
   * view writer, workers). A not-ready instance (503) is an answer too: `status` is
   * then `not_ready` and `reasons` says why.
   */
  async ready(options: RequestOptions = {}): Promise<Readiness> {
    try {
      return await this.#http.json<Readiness>("GET", "/readyz", { auth: false, signal: options.signal });
    } catch (error) {
      if (error instanceof AgentshareError && error.status === 503 && isReadiness(error.body)) return error.body;
      throw error;
    }
  }
}

function isReadiness(body: unknown): body is Readiness {
  return typeof body === "object" && body !== null && "checks" in body && "status" in body;
}

/** The name seed 001's examples use. */
export const AgentrixClient = AgentshareClient;
/** The name seed 001's examples use. */
export type AgentrixClient = AgentshareClient;
