import { parseSse } from "./sse.js";
import { p } from "./http.js";
/** Tasks: create, read, change, list; the owner can also message a task. */
export class TasksApi {
    #http;
    constructor(http) {
        this.#http = http;
    }
    /** `POST /v1/tasks` */
    create(request, options = {}) {
        return this.#http.json("POST", "/v1/tasks", { json: request, signal: options.signal });
    }
    /** `GET /v1/tasks/{task_id}` */
    get(taskId, options = {}) {
        return this.#http.json("GET", `/v1/tasks/${p(taskId)}`, { signal: options.signal });
    }
    /** `PATCH /v1/tasks/{task_id}`: only the fields given change. */
    update(taskId, request, options = {}) {
        return this.#http.json("PATCH", `/v1/tasks/${p(taskId)}`, { json: request, signal: options.signal });
    }
    /** `GET /v1/tasks`: one page, newest first. */
    list(params = {}, options = {}) {
        return this.#http.json("GET", "/v1/tasks", { query: params, signal: options.signal });
    }
    /** Every task matching `params`, newest first, fetching page after page. */
    async *listAll(params = {}, options = {}) {
        let cursor;
        for (;;) {
            const page = await this.list({ ...params, cursor }, options);
            yield* page.tasks;
            if (!page.has_more || !page.next_cursor)
                return;
            cursor = page.next_cursor;
        }
    }
    /** `POST /v1/tasks/{task_id}/messages`: a `message` event written by the caller. */
    sendMessage(taskId, content, options = {}) {
        return this.#http.json("POST", `/v1/tasks/${p(taskId)}/messages`, { json: { content }, signal: options.signal });
    }
}
/** A task's events: append, read in order, follow live. */
export class EventsApi {
    #http;
    constructor(http) {
        this.#http = http;
    }
    /** `POST /v1/tasks/{task_id}/events`: one event (an event whose `key` was used before is answered, not added). */
    append(taskId, event, options = {}) {
        return this.#http.json("POST", `/v1/tasks/${p(taskId)}/events`, { json: event, signal: options.signal });
    }
    /** `GET /v1/tasks/{task_id}/events`: a page, in order; ask again with `after: page.next_after`. */
    list(taskId, params = {}, options = {}) {
        return this.#http.json("GET", `/v1/tasks/${p(taskId)}/events`, { query: params, signal: options.signal });
    }
    /**
     * `GET /v1/tasks/{task_id}/events/stream`: the task's events as they come
     * (Server-Sent Events). The iteration ends after an `end` (the task finished) or
     * `revoked` (the share code was taken back) message, when the server closes the
     * stream, or by `signal`; leaving the loop closes the connection.
     */
    async *stream(taskId, options = {}) {
        const { signal } = options;
        signal?.throwIfAborted();
        const controller = new AbortController();
        const forward = () => controller.abort(signal?.reason);
        signal?.addEventListener("abort", forward, { once: true });
        try {
            const headers = { Accept: "text/event-stream" };
            if (options.lastEventId !== undefined)
                headers["Last-Event-ID"] = options.lastEventId;
            const body = await this.#http.stream("GET", `/v1/tasks/${p(taskId)}/events/stream`, {
                query: { after: options.after },
                headers,
                signal: controller.signal,
            });
            for await (const message of parseSse(body)) {
                let data = message.data;
                try {
                    data = JSON.parse(message.data);
                }
                catch {
                    // Not JSON: handed over as text.
                }
                yield { event: message.event, id: message.id, data };
            }
        }
        finally {
            signal?.removeEventListener("abort", forward);
            controller.abort();
        }
    }
}
function uploadBody(data, contentType) {
    if (typeof data === "string")
        return { body: data, type: contentType ?? "text/plain; charset=utf-8" };
    if (typeof Blob !== "undefined" && data instanceof Blob) {
        return { body: data, type: contentType ?? (data.type || "application/octet-stream") };
    }
    return { body: data, type: contentType ?? "application/octet-stream" };
}
/** A task's files. */
export class ArtifactsApi {
    #http;
    constructor(http) {
        this.#http = http;
    }
    /** `POST /v1/tasks/{task_id}/artifacts?name=`: the file, byte for byte. */
    upload(taskId, name, data, options = {}) {
        const { body, type } = uploadBody(data, options.contentType);
        return this.#http.json("POST", `/v1/tasks/${p(taskId)}/artifacts`, {
            query: { name },
            body,
            headers: { "Content-Type": type },
            signal: options.signal,
        });
    }
    /** `GET /v1/tasks/{task_id}/artifacts` */
    list(taskId, options = {}) {
        return this.#http.json("GET", `/v1/tasks/${p(taskId)}/artifacts`, { signal: options.signal });
    }
    /** `GET /v1/tasks/{task_id}/artifacts/{artifact_id}`: the file's bytes. */
    download(taskId, artifactId, options = {}) {
        return this.#http.bytes("GET", `/v1/tasks/${p(taskId)}/artifacts/${p(artifactId)}`, {
            headers: { Accept: "*/*" },
            signal: options.signal,
        });
    }
    /** The file as a stream, for large files. */
    downloadStream(taskId, artifactId, options = {}) {
        return this.#http.stream("GET", `/v1/tasks/${p(taskId)}/artifacts/${p(artifactId)}`, {
            headers: { Accept: "*/*" },
            signal: options.signal,
        });
    }
    /** `DELETE /v1/tasks/{task_id}/artifacts/{artifact_id}` */
    delete(taskId, artifactId, options = {}) {
        return this.#http.empty("DELETE", `/v1/tasks/${p(taskId)}/artifacts/${p(artifactId)}`, { signal: options.signal });
    }
}
/** Share links (seed 001): create, preview, manage, analyse, revoke. */
export class ShareLinksApi {
    #http;
    constructor(http) {
        this.#http = http;
    }
    /** `POST /v1/share-links`: a link of a finished task. */
    create(request, options = {}) {
        return this.#http.json("POST", "/v1/share-links", { json: request, signal: options.signal });
    }
    /** `POST /v1/share-links/preview`: what a link with this body would show, and what the content holds; creates nothing. */
    preview(request, options = {}) {
        return this.#http.json("POST", "/v1/share-links/preview", { json: request, signal: options.signal });
    }
    /** `GET /v1/share-links/{share_link_id}` */
    get(shareLinkId, options = {}) {
        return this.#http.json("GET", `/v1/share-links/${p(shareLinkId)}`, { signal: options.signal });
    }
    /** `GET /v1/share-links`: one page, newest first. */
    list(params = {}, options = {}) {
        return this.#http.json("GET", "/v1/share-links", { query: params, signal: options.signal });
    }
    /** Every link matching `params`, newest first, fetching page after page. */
    async *listAll(params = {}, options = {}) {
        let cursor;
        for (;;) {
            const page = await this.list({ ...params, cursor }, options);
            yield* page.share_links;
            if (!page.has_more || !page.next_cursor)
                return;
            cursor = page.next_cursor;
        }
    }
    /** `PATCH /v1/share-links/{share_link_id}`: only the fields given change; `null` removes. */
    update(shareLinkId, request, options = {}) {
        return this.#http.json("PATCH", `/v1/share-links/${p(shareLinkId)}`, { json: request, signal: options.signal });
    }
    /** `DELETE /v1/share-links/{share_link_id}`: revokes the link at once (final). */
    revoke(shareLinkId, options = {}) {
        return this.#http.json("DELETE", `/v1/share-links/${p(shareLinkId)}`, { signal: options.signal });
    }
    /** `POST /v1/share-links/revoke-all`: every active link (of one task), and with `include_codes` the share codes too. */
    revokeAll(request = {}, options = {}) {
        return this.#http.json("POST", "/v1/share-links/revoke-all", { json: request, signal: options.signal });
    }
    /** `GET /v1/share-links/{share_link_id}/analytics`: who looked. */
    analytics(shareLinkId, options = {}) {
        return this.#http.json("GET", `/v1/share-links/${p(shareLinkId)}/analytics`, { signal: options.signal });
    }
    /** `GET /v1/share-links/{share_link_id}/activity`: a page of what viewers did, newest first. */
    activity(shareLinkId, params = {}, options = {}) {
        return this.#http.json("GET", `/v1/share-links/${p(shareLinkId)}/activity`, {
            query: { ...params, format: "json" },
            signal: options.signal,
        });
    }
    /** `GET /v1/share-links/{share_link_id}/activity?format=csv`: the whole log as CSV text. */
    activityCsv(shareLinkId, options = {}) {
        return this.#http.text("GET", `/v1/share-links/${p(shareLinkId)}/activity`, {
            query: { format: "csv" },
            headers: { Accept: "text/csv" },
            signal: options.signal,
        });
    }
    /** `GET /v1/share-links/{share_link_id}/comments`: every comment, with its author's address. */
    listComments(shareLinkId, options = {}) {
        return this.#http.json("GET", `/v1/share-links/${p(shareLinkId)}/comments`, { signal: options.signal });
    }
    /** `DELETE /v1/share-links/{share_link_id}/comments/{comment_id}` */
    deleteComment(shareLinkId, commentId, options = {}) {
        return this.#http.empty("DELETE", `/v1/share-links/${p(shareLinkId)}/comments/${p(commentId)}`, { signal: options.signal });
    }
}
/** Pull requests of a task linked to a repository. */
export class PullRequestsApi {
    #http;
    constructor(http) {
        this.#http = http;
    }
    /** `GET /v1/tasks/{task_id}/pull-requests` */
    list(taskId, options = {}) {
        return this.#http.json("GET", `/v1/tasks/${p(taskId)}/pull-requests`, { signal: options.signal });
    }
    /** `POST /v1/tasks/{task_id}/pull-requests` */
    create(taskId, request, options = {}) {
        return this.#http.json("POST", `/v1/tasks/${p(taskId)}/pull-requests`, { json: request, signal: options.signal });
    }
    /** `GET /v1/tasks/{task_id}/pull-requests/{number}`: with its diff. */
    get(taskId, number, options = {}) {
        return this.#http.json("GET", `/v1/tasks/${p(taskId)}/pull-requests/${p(number)}`, { signal: options.signal });
    }
    /** `POST /v1/tasks/{task_id}/pull-requests/{number}/approve` */
    approve(taskId, number, options = {}) {
        return this.#http.json("POST", `/v1/tasks/${p(taskId)}/pull-requests/${p(number)}/approve`, { signal: options.signal });
    }
    /** `POST /v1/tasks/{task_id}/pull-requests/{number}/merge`: into the task's base branch. */
    merge(taskId, number, options = {}) {
        return this.#http.json("POST", `/v1/tasks/${p(taskId)}/pull-requests/${p(number)}/merge`, { signal: options.signal });
    }
}
/**
 * A viewer session: what a share code was exchanged for. It reaches its one task,
 * as far as the code's permissions allow.
 */
export class ViewerSession {
    /** The session's bearer token (`vst_…`); keep it to come back with `client.shareCodes.session()`. */
    token;
    tokenType;
    expiresAt;
    taskId;
    permissions;
    #tasks;
    #events;
    #artifacts;
    #pullRequests;
    constructor(http, created) {
        this.token = created.token;
        this.tokenType = created.tokenType;
        this.expiresAt = created.expiresAt;
        this.taskId = created.taskId;
        this.permissions = created.permissions;
        const session = http.withToken(created.token);
        this.#tasks = new TasksApi(session);
        this.#events = new EventsApi(session);
        this.#artifacts = new ArtifactsApi(session);
        this.#pullRequests = new PullRequestsApi(session);
    }
    /** The shared task (without owner data). */
    getTask(options = {}) {
        return this.#tasks.get(this.taskId, options);
    }
    /** A page of the task's events (all but private ones). */
    listEvents(params = {}, options = {}) {
        return this.#events.list(this.taskId, params, options);
    }
    /** The task's events as they come: ends with `end` (task finished) or `revoked` (code revoked). */
    streamEvents(options = {}) {
        return this.#events.stream(this.taskId, options);
    }
    /** Sends the task a message (`canSendMessage`). */
    sendMessage(content, options = {}) {
        return this.#tasks.sendMessage(this.taskId, content, options);
    }
    /** The task's files. */
    listArtifacts(options = {}) {
        return this.#artifacts.list(this.taskId, options);
    }
    /** A file's bytes. */
    downloadArtifact(artifactId, options = {}) {
        return this.#artifacts.download(this.taskId, artifactId, options);
    }
    /** A file as a stream. */
    downloadArtifactStream(artifactId, options = {}) {
        return this.#artifacts.downloadStream(this.taskId, artifactId, options);
    }
    /** The task's pull requests (`canViewPr`). */
    listPullRequests(options = {}) {
        return this.#pullRequests.list(this.taskId, options);
    }
    /** One pull request with its diff (`canViewPr`). */
    getPullRequest(number, options = {}) {
        return this.#pullRequests.get(this.taskId, number, options);
    }
    /** Opens a pull request (`canCreatePr`). */
    createPullRequest(request, options = {}) {
        return this.#pullRequests.create(this.taskId, request, options);
    }
    /** Approves a pull request (`canApprovePr`). */
    approvePullRequest(number, options = {}) {
        return this.#pullRequests.approve(this.taskId, number, options);
    }
    /** Merges a pull request (`canMergePr`). */
    mergePullRequest(number, options = {}) {
        return this.#pullRequests.merge(this.taskId, number, options);
    }
}
/** Share codes (seed 003): the owner creates, reads and revokes; a viewer exchanges one for a session. */
export class ShareCodesApi {
    #http;
    constructor(http) {
        this.#http = http;
    }
    #path(taskId, route) {
        return route === "tasks" ? `/v1/tasks/${p(taskId)}/share` : `/v1/agentrix/tasks/${p(taskId)}/share`;
    }
    /**
     * `POST /v1/agentrix/tasks/{taskId}/share` (or `/v1/tasks/{taskId}/share` with
     * `route: "tasks"`): a new code; a second one rotates it, ending every session of the old.
     */
    create(taskId, request = {}, options = {}) {
        return this.#http.json("POST", this.#path(taskId, options.route), { json: request, signal: options.signal });
    }
    /** `GET /v1/agentrix/tasks/{taskId}/share` (or `/v1/tasks/…` with `route: "tasks"`): the live code. */
    get(taskId, options = {}) {
        return this.#http.json("GET", this.#path(taskId, options.route), { signal: options.signal });
    }
    /** `DELETE /v1/agentrix/tasks/{taskId}/share` (or `/v1/tasks/…`): revokes the code and its sessions at once. */
    revoke(taskId, options = {}) {
        return this.#http.empty("DELETE", this.#path(taskId, options.route), { signal: options.signal });
    }
    /** `GET /v1/auth/share?code=`: exchanges a code for a viewer session (no API key needed). */
    async exchange(code, options = {}) {
        const created = await this.#http.json("GET", "/v1/auth/share", {
            query: { code },
            auth: false,
            signal: options.signal,
        });
        return new ViewerSession(this.#http, created);
    }
    /** A session from a token kept earlier (its permissions are not known here: all false). */
    session(token, taskId, expiresAt = "") {
        const none = {
            canSendMessage: false,
            canCreatePr: false,
            canApprovePr: false,
            canViewPr: false,
            canMergePr: false,
        };
        return new ViewerSession(this.#http, { token, tokenType: "Bearer", expiresAt, taskId, permissions: none });
    }
}
/** Webhook endpoints, their deliveries and test events. */
export class WebhooksApi {
    #http;
    constructor(http) {
        this.#http = http;
    }
    /** `POST /v1/webhooks`: the answer carries the signing `secret`, once. */
    create(request, options = {}) {
        return this.#http.json("POST", "/v1/webhooks", { json: request, signal: options.signal });
    }
    /** `GET /v1/webhooks` */
    list(options = {}) {
        return this.#http.json("GET", "/v1/webhooks", { signal: options.signal });
    }
    /** `GET /v1/webhooks/{webhook_id}` */
    get(webhookId, options = {}) {
        return this.#http.json("GET", `/v1/webhooks/${p(webhookId)}`, { signal: options.signal });
    }
    /** `PATCH /v1/webhooks/{webhook_id}`: `rotate_secret: true` answers a new secret. */
    update(webhookId, request, options = {}) {
        return this.#http.json("PATCH", `/v1/webhooks/${p(webhookId)}`, { json: request, signal: options.signal });
    }
    /** `DELETE /v1/webhooks/{webhook_id}` */
    delete(webhookId, options = {}) {
        return this.#http.empty("DELETE", `/v1/webhooks/${p(webhookId)}`, { signal: options.signal });
    }
    /** `GET /v1/webhooks/{webhook_id}/deliveries`: every delivery attempt, newest first. */
    deliveries(webhookId, params = {}, options = {}) {
        return this.#http.json("GET", `/v1/webhooks/${p(webhookId)}/deliveries`, { query: params, signal: options.signal });
    }
    /** `POST /v1/webhooks/{webhook_id}/test`: queues a `webhook.test` event. */
    test(webhookId, options = {}) {
        return this.#http.json("POST", `/v1/webhooks/${p(webhookId)}/test`, { signal: options.signal });
    }
}
/** The owner's settings. */
export class SettingsApi {
    #http;
    constructor(http) {
        this.#http = http;
    }
    /** `GET /v1/settings/sharing`: the rules new links and codes must meet. */
    getSharingPolicy(options = {}) {
        return this.#http.json("GET", "/v1/settings/sharing", { signal: options.signal });
    }
    /** `PUT /v1/settings/sharing`: replaces the whole policy (a field left out takes its default). */
    setSharingPolicy(policy, options = {}) {
        return this.#http.json("PUT", "/v1/settings/sharing", { json: policy, signal: options.signal });
    }
}
/** `link` as the base of its routes: a link's `url` as given, or `/s/{token}` for a bare token. */
function linkBase(link) {
    if (/^https?:\/\//i.test(link)) {
        const url = new URL(link);
        url.search = "";
        url.hash = "";
        return url.toString().replace(/\/+$/, "");
    }
    return `/s/${p(link)}`;
}
/**
 * What anyone holding a share link can do with it (`/s/{token}`), without an API
 * key. `link` is the link's `url` (or its token); `short_url` works for `open` and
 * `openMarkdown`, which follow its redirect.
 */
export class LinkViewerApi {
    #http;
    constructor(http) {
        this.#http = http;
    }
    #viewHeaders(accept, options) {
        const headers = { Accept: accept };
        if (options.password !== undefined)
            headers["X-Share-Password"] = options.password;
        if (options.viewerToken !== undefined)
            headers["X-Share-Viewer"] = options.viewerToken;
        return headers;
    }
    /** `GET /s/{token}` as JSON: spends one view and answers the shared view. */
    open(link, options = {}) {
        return this.#http.json("GET", linkBase(link), {
            headers: this.#viewHeaders("application/json", options),
            auth: false,
            signal: options.signal,
        });
    }
    /** `GET /s/{token}` as one markdown document (spends a view like `open`). */
    openMarkdown(link, options = {}) {
        return this.#http.text("GET", linkBase(link), {
            headers: this.#viewHeaders("text/markdown", options),
            auth: false,
            signal: options.signal,
        });
    }
    /** `POST /s/{token}`: what the page's password form and Reveal button send; answers the page (HTML). */
    reveal(link, options = {}) {
        const form = new URLSearchParams();
        if (options.password !== undefined)
            form.set("password", options.password);
        return this.#http.text("POST", linkBase(link), {
            body: form.toString(),
            headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "text/html" },
            auth: false,
            signal: options.signal,
        });
    }
    /** A file of the shared view: its `download_url` (which carries the view's grant). */
    download(downloadUrl, options = {}) {
        return this.#http.bytes("GET", downloadUrl, { headers: { Accept: "*/*" }, auth: false, signal: options.signal });
    }
    /** A file of the shared view as a stream. */
    downloadStream(downloadUrl, options = {}) {
        return this.#http.stream("GET", downloadUrl, { headers: { Accept: "*/*" }, auth: false, signal: options.signal });
    }
    /** `GET /s/{token}/artifacts.zip?grant=`: every file in one zip. */
    downloadAll(link, grant, options = {}) {
        return this.#http.bytes("GET", `${linkBase(link)}/artifacts.zip`, {
            query: { grant },
            headers: { Accept: "*/*" },
            auth: false,
            signal: options.signal,
        });
    }
    /** The zip of every file as a stream. */
    downloadAllStream(link, grant, options = {}) {
        return this.#http.stream("GET", `${linkBase(link)}/artifacts.zip`, {
            query: { grant },
            headers: { Accept: "*/*" },
            auth: false,
            signal: options.signal,
        });
    }
    /** `POST /s/{token}/comments`: a comment, shown once its author follows the link mailed to them. */
    postComment(link, comment, options = {}) {
        return this.#http.json("POST", `${linkBase(link)}/comments`, { json: comment, auth: false, signal: options.signal });
    }
    /**
     * `GET /s/{token}/comments/verify?code=`: publishes a comment. Takes the
     * verification link from the mail as it is, or a link and the code.
     */
    async verifyComment(verificationUrlOrLink, code, options = {}) {
        let path;
        let query = {};
        if (code === undefined) {
            path = verificationUrlOrLink;
        }
        else {
            path = `${linkBase(verificationUrlOrLink)}/comments/verify`;
            query = { code };
        }
        await this.#http.text("GET", path, { query, headers: { Accept: "text/html" }, auth: false, signal: options.signal });
    }
    /** `POST /s/{token}/verification`: mails a code to `email` if the link's audience admits it. */
    requestVerification(link, email, options = {}) {
        return this.#http.json("POST", `${linkBase(link)}/verification`, { json: { email }, auth: false, signal: options.signal });
    }
    /** `POST /s/{token}/verification/confirm`: the mailed code for a viewer token (pass it to `open` as `viewerToken`). */
    confirmVerification(link, email, code, options = {}) {
        return this.#http.json("POST", `${linkBase(link)}/verification/confirm`, {
            json: { email, code },
            auth: false,
            signal: options.signal,
        });
    }
}
/** OTLP/HTTP trace export (`POST /otlp/v1/traces`). */
export class OtlpApi {
    #http;
    constructor(http) {
        this.#http = http;
    }
    async exportTraces(body, contentType = "application/json", options = {}) {
        const isBytes = body instanceof Uint8Array || (typeof Blob !== "undefined" && body instanceof Blob);
        const payload = typeof body === "string" || isBytes ? body : JSON.stringify(body);
        const json = contentType.split(";")[0].trim().toLowerCase() === "application/json";
        const headers = { "Content-Type": contentType, Accept: json ? "application/json" : contentType };
        if (options.contentEncoding !== undefined)
            headers["Content-Encoding"] = options.contentEncoding;
        const response = await this.#http.send("POST", "/otlp/v1/traces", { body: payload, headers, signal: options.signal });
        if (json) {
            const text = await response.text();
            return text ? JSON.parse(text) : {};
        }
        return new Uint8Array(await response.arrayBuffer());
    }
}
