import { AgentshareError } from "./errors.js";
import { DEFAULT_SERVER, serverFromEnvironment, Transport } from "./http.js";
import { ArtifactsApi, EventsApi, LinkViewerApi, OtlpApi, PullRequestsApi, SettingsApi, ShareCodesApi, ShareLinksApi, TasksApi, WebhooksApi, } from "./resources.js";
/** A client of an agentshare server. */
export class AgentshareClient {
    /** The server's base URL, without a trailing slash. */
    server;
    tasks;
    events;
    artifacts;
    shareLinks;
    shareCodes;
    pullRequests;
    webhooks;
    settings;
    /** What anyone holding a share link can do with it (`/s/{token}`). */
    linkViewer;
    otlp;
    #http;
    constructor(options = {}) {
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
    health(options = {}) {
        return this.#http.json("GET", "/healthz", { auth: false, signal: options.signal });
    }
    /**
     * `GET /readyz`: whether this instance should be sent traffic (database, schema,
     * view writer, workers). A not-ready instance (503) is an answer too: `status` is
     * then `not_ready` and `reasons` says why.
     */
    async ready(options = {}) {
        try {
            return await this.#http.json("GET", "/readyz", { auth: false, signal: options.signal });
        }
        catch (error) {
            if (error instanceof AgentshareError && error.status === 503 && isReadiness(error.body))
                return error.body;
            throw error;
        }
    }
}
function isReadiness(body) {
    return typeof body === "object" && body !== null && "checks" in body && "status" in body;
}
/** The name seed 001's examples use. */
export const AgentrixClient = AgentshareClient;
