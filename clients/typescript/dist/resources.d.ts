import { Transport } from "./http.js";
import type { ActivityList, ActivityParams, AppendEventRequest, Artifact, ArtifactList, CommentList, CommentPending, CreatePullRequestRequest, CreateShareCodeRequest, CreateShareLinkRequest, CreateTaskRequest, CreateWebhookRequest, EventList, LinkPreview, ListEventsParams, ListShareLinksParams, ListTasksParams, OpenLinkOptions, OtlpExportOptions, OtlpExportResponse, PostCommentRequest, PullRequest, PullRequestList, RequestOptions, RevokeAllRequest, RevokedAll, ShareCodeCreated, ShareCodeInfo, ShareCodePermissions, ShareCodeRouteOptions, SharedView, ShareLink, ShareLinkAnalytics, ShareLinkList, SharingPolicy, SharingPolicyRequest, StreamEvent, StreamEventsOptions, Task, TaskEvent, TaskList, TestEventQueued, UpdateShareLinkRequest, UpdateTaskRequest, UpdateWebhookRequest, UploadData, UploadOptions, VerificationPending, ViewerSessionCreated, ViewerToken, Webhook, WebhookDeliveryList, WebhookList } from "./types.js";
/** Tasks: create, read, change, list; the owner can also message a task. */
export declare class TasksApi {
    #private;
    constructor(http: Transport);
    /** `POST /v1/tasks` */
    create(request: CreateTaskRequest, options?: RequestOptions): Promise<Task>;
    /** `GET /v1/tasks/{task_id}` */
    get(taskId: string, options?: RequestOptions): Promise<Task>;
    /** `PATCH /v1/tasks/{task_id}`: only the fields given change. */
    update(taskId: string, request: UpdateTaskRequest, options?: RequestOptions): Promise<Task>;
    /** `GET /v1/tasks`: one page, newest first. */
    list(params?: ListTasksParams, options?: RequestOptions): Promise<TaskList>;
    /** Every task matching `params`, newest first, fetching page after page. */
    listAll(params?: Omit<ListTasksParams, "cursor">, options?: RequestOptions): AsyncGenerator<Task, void, undefined>;
    /** `POST /v1/tasks/{task_id}/messages`: a `message` event written by the caller. */
    sendMessage(taskId: string, content: string, options?: RequestOptions): Promise<TaskEvent>;
}
/** A task's events: append, read in order, follow live. */
export declare class EventsApi {
    #private;
    constructor(http: Transport);
    /** `POST /v1/tasks/{task_id}/events`: one event (an event whose `key` was used before is answered, not added). */
    append(taskId: string, event: AppendEventRequest, options?: RequestOptions): Promise<TaskEvent>;
    /** `GET /v1/tasks/{task_id}/events`: a page, in order; ask again with `after: page.next_after`. */
    list(taskId: string, params?: ListEventsParams, options?: RequestOptions): Promise<EventList>;
    /**
     * `GET /v1/tasks/{task_id}/events/stream`: the task's events as they come
     * (Server-Sent Events). The iteration ends after an `end` (the task finished) or
     * `revoked` (the share code was taken back) message, when the server closes the
     * stream, or by `signal`; leaving the loop closes the connection.
     */
    stream(taskId: string, options?: StreamEventsOptions): AsyncGenerator<StreamEvent, void, undefined>;
}
/** A task's files. */
export declare class ArtifactsApi {
    #private;
    constructor(http: Transport);
    /** `POST /v1/tasks/{task_id}/artifacts?name=`: the file, byte for byte. */
    upload(taskId: string, name: string, data: UploadData, options?: UploadOptions): Promise<Artifact>;
    /** `GET /v1/tasks/{task_id}/artifacts` */
    list(taskId: string, options?: RequestOptions): Promise<ArtifactList>;
    /** `GET /v1/tasks/{task_id}/artifacts/{artifact_id}`: the file's bytes. */
    download(taskId: string, artifactId: string, options?: RequestOptions): Promise<Uint8Array>;
    /** The file as a stream, for large files. */
    downloadStream(taskId: string, artifactId: string, options?: RequestOptions): Promise<ReadableStream<Uint8Array>>;
    /** `DELETE /v1/tasks/{task_id}/artifacts/{artifact_id}` */
    delete(taskId: string, artifactId: string, options?: RequestOptions): Promise<void>;
}
/** Share links (seed 001): create, preview, manage, analyse, revoke. */
export declare class ShareLinksApi {
    #private;
    constructor(http: Transport);
    /** `POST /v1/share-links`: a link of a finished task. */
    create(request: CreateShareLinkRequest, options?: RequestOptions): Promise<ShareLink>;
    /** `POST /v1/share-links/preview`: what a link with this body would show, and what the content holds; creates nothing. */
    preview(request: CreateShareLinkRequest, options?: RequestOptions): Promise<LinkPreview>;
    /** `GET /v1/share-links/{share_link_id}` */
    get(shareLinkId: string, options?: RequestOptions): Promise<ShareLink>;
    /** `GET /v1/share-links`: one page, newest first. */
    list(params?: ListShareLinksParams, options?: RequestOptions): Promise<ShareLinkList>;
    /** Every link matching `params`, newest first, fetching page after page. */
    listAll(params?: Omit<ListShareLinksParams, "cursor">, options?: RequestOptions): AsyncGenerator<ShareLink, void, undefined>;
    /** `PATCH /v1/share-links/{share_link_id}`: only the fields given change; `null` removes. */
    update(shareLinkId: string, request: UpdateShareLinkRequest, options?: RequestOptions): Promise<ShareLink>;
    /** `DELETE /v1/share-links/{share_link_id}`: revokes the link at once (final). */
    revoke(shareLinkId: string, options?: RequestOptions): Promise<ShareLink>;
    /** `POST /v1/share-links/revoke-all`: every active link (of one task), and with `include_codes` the share codes too. */
    revokeAll(request?: RevokeAllRequest, options?: RequestOptions): Promise<RevokedAll>;
    /** `GET /v1/share-links/{share_link_id}/analytics`: who looked. */
    analytics(shareLinkId: string, options?: RequestOptions): Promise<ShareLinkAnalytics>;
    /** `GET /v1/share-links/{share_link_id}/activity`: a page of what viewers did, newest first. */
    activity(shareLinkId: string, params?: ActivityParams, options?: RequestOptions): Promise<ActivityList>;
    /** `GET /v1/share-links/{share_link_id}/activity?format=csv`: the whole log as CSV text. */
    activityCsv(shareLinkId: string, options?: RequestOptions): Promise<string>;
    /** `GET /v1/share-links/{share_link_id}/comments`: every comment, with its author's address. */
    listComments(shareLinkId: string, options?: RequestOptions): Promise<CommentList>;
    /** `DELETE /v1/share-links/{share_link_id}/comments/{comment_id}` */
    deleteComment(shareLinkId: string, commentId: string, options?: RequestOptions): Promise<void>;
}
/** Pull requests of a task linked to a repository. */
export declare class PullRequestsApi {
    #private;
    constructor(http: Transport);
    /** `GET /v1/tasks/{task_id}/pull-requests` */
    list(taskId: string, options?: RequestOptions): Promise<PullRequestList>;
    /** `POST /v1/tasks/{task_id}/pull-requests` */
    create(taskId: string, request: CreatePullRequestRequest, options?: RequestOptions): Promise<PullRequest>;
    /** `GET /v1/tasks/{task_id}/pull-requests/{number}`: with its diff. */
    get(taskId: string, number: number, options?: RequestOptions): Promise<PullRequest>;
    /** `POST /v1/tasks/{task_id}/pull-requests/{number}/approve` */
    approve(taskId: string, number: number, options?: RequestOptions): Promise<PullRequest>;
    /** `POST /v1/tasks/{task_id}/pull-requests/{number}/merge`: into the task's base branch. */
    merge(taskId: string, number: number, options?: RequestOptions): Promise<PullRequest>;
}
/**
 * A viewer session: what a share code was exchanged for. It reaches its one task,
 * as far as the code's permissions allow.
 */
export declare class ViewerSession {
    #private;
    /** The session's bearer token (`vst_…`); keep it to come back with `client.shareCodes.session()`. */
    readonly token: string;
    readonly tokenType: string;
    readonly expiresAt: string;
    readonly taskId: string;
    readonly permissions: ShareCodePermissions;
    constructor(http: Transport, created: ViewerSessionCreated);
    /** The shared task (without owner data). */
    getTask(options?: RequestOptions): Promise<Task>;
    /** A page of the task's events (all but private ones). */
    listEvents(params?: ListEventsParams, options?: RequestOptions): Promise<EventList>;
    /** The task's events as they come: ends with `end` (task finished) or `revoked` (code revoked). */
    streamEvents(options?: StreamEventsOptions): AsyncGenerator<StreamEvent, void, undefined>;
    /** Sends the task a message (`canSendMessage`). */
    sendMessage(content: string, options?: RequestOptions): Promise<TaskEvent>;
    /** The task's files. */
    listArtifacts(options?: RequestOptions): Promise<ArtifactList>;
    /** A file's bytes. */
    downloadArtifact(artifactId: string, options?: RequestOptions): Promise<Uint8Array>;
    /** A file as a stream. */
    downloadArtifactStream(artifactId: string, options?: RequestOptions): Promise<ReadableStream<Uint8Array>>;
    /** The task's pull requests (`canViewPr`). */
    listPullRequests(options?: RequestOptions): Promise<PullRequestList>;
    /** One pull request with its diff (`canViewPr`). */
    getPullRequest(number: number, options?: RequestOptions): Promise<PullRequest>;
    /** Opens a pull request (`canCreatePr`). */
    createPullRequest(request: CreatePullRequestRequest, options?: RequestOptions): Promise<PullRequest>;
    /** Approves a pull request (`canApprovePr`). */
    approvePullRequest(number: number, options?: RequestOptions): Promise<PullRequest>;
    /** Merges a pull request (`canMergePr`). */
    mergePullRequest(number: number, options?: RequestOptions): Promise<PullRequest>;
}
/** Share codes (seed 003): the owner creates, reads and revokes; a viewer exchanges one for a session. */
export declare class ShareCodesApi {
    #private;
    constructor(http: Transport);
    /**
     * `POST /v1/agentrix/tasks/{taskId}/share` (or `/v1/tasks/{taskId}/share` with
     * `route: "tasks"`): a new code; a second one rotates it, ending every session of the old.
     */
    create(taskId: string, request?: CreateShareCodeRequest, options?: ShareCodeRouteOptions): Promise<ShareCodeCreated>;
    /** `GET /v1/agentrix/tasks/{taskId}/share` (or `/v1/tasks/…` with `route: "tasks"`): the live code. */
    get(taskId: string, options?: ShareCodeRouteOptions): Promise<ShareCodeInfo>;
    /** `DELETE /v1/agentrix/tasks/{taskId}/share` (or `/v1/tasks/…`): revokes the code and its sessions at once. */
    revoke(taskId: string, options?: ShareCodeRouteOptions): Promise<void>;
    /** `GET /v1/auth/share?code=`: exchanges a code for a viewer session (no API key needed). */
    exchange(code: string, options?: RequestOptions): Promise<ViewerSession>;
    /** A session from a token kept earlier (its permissions are not known here: all false). */
    session(token: string, taskId: string, expiresAt?: string): ViewerSession;
}
/** Webhook endpoints, their deliveries and test events. */
export declare class WebhooksApi {
    #private;
    constructor(http: Transport);
    /** `POST /v1/webhooks`: the answer carries the signing `secret`, once. */
    create(request: CreateWebhookRequest, options?: RequestOptions): Promise<Webhook>;
    /** `GET /v1/webhooks` */
    list(options?: RequestOptions): Promise<WebhookList>;
    /** `GET /v1/webhooks/{webhook_id}` */
    get(webhookId: string, options?: RequestOptions): Promise<Webhook>;
    /** `PATCH /v1/webhooks/{webhook_id}`: `rotate_secret: true` answers a new secret. */
    update(webhookId: string, request: UpdateWebhookRequest, options?: RequestOptions): Promise<Webhook>;
    /** `DELETE /v1/webhooks/{webhook_id}` */
    delete(webhookId: string, options?: RequestOptions): Promise<void>;
    /** `GET /v1/webhooks/{webhook_id}/deliveries`: every delivery attempt, newest first. */
    deliveries(webhookId: string, params?: {
        limit?: number;
    }, options?: RequestOptions): Promise<WebhookDeliveryList>;
    /** `POST /v1/webhooks/{webhook_id}/test`: queues a `webhook.test` event. */
    test(webhookId: string, options?: RequestOptions): Promise<TestEventQueued>;
}
/** The owner's settings. */
export declare class SettingsApi {
    #private;
    constructor(http: Transport);
    /** `GET /v1/settings/sharing`: the rules new links and codes must meet. */
    getSharingPolicy(options?: RequestOptions): Promise<SharingPolicy>;
    /** `PUT /v1/settings/sharing`: replaces the whole policy (a field left out takes its default). */
    setSharingPolicy(policy: SharingPolicyRequest, options?: RequestOptions): Promise<SharingPolicy>;
}
/**
 * What anyone holding a share link can do with it (`/s/{token}`), without an API
 * key. `link` is the link's `url` (or its token); `short_url` works for `open` and
 * `openMarkdown`, which follow its redirect.
 */
export declare class LinkViewerApi {
    #private;
    constructor(http: Transport);
    /** `GET /s/{token}` as JSON: spends one view and answers the shared view. */
    open(link: string, options?: OpenLinkOptions): Promise<SharedView>;
    /** `GET /s/{token}` as one markdown document (spends a view like `open`). */
    openMarkdown(link: string, options?: OpenLinkOptions): Promise<string>;
    /** `POST /s/{token}`: what the page's password form and Reveal button send; answers the page (HTML). */
    reveal(link: string, options?: {
        password?: string;
        signal?: AbortSignal;
    }): Promise<string>;
    /** A file of the shared view: its `download_url` (which carries the view's grant). */
    download(downloadUrl: string, options?: RequestOptions): Promise<Uint8Array>;
    /** A file of the shared view as a stream. */
    downloadStream(downloadUrl: string, options?: RequestOptions): Promise<ReadableStream<Uint8Array>>;
    /** `GET /s/{token}/artifacts.zip?grant=`: every file in one zip. */
    downloadAll(link: string, grant: string, options?: RequestOptions): Promise<Uint8Array>;
    /** The zip of every file as a stream. */
    downloadAllStream(link: string, grant: string, options?: RequestOptions): Promise<ReadableStream<Uint8Array>>;
    /** `POST /s/{token}/comments`: a comment, shown once its author follows the link mailed to them. */
    postComment(link: string, comment: PostCommentRequest, options?: RequestOptions): Promise<CommentPending>;
    /**
     * `GET /s/{token}/comments/verify?code=`: publishes a comment. Takes the
     * verification link from the mail as it is, or a link and the code.
     */
    verifyComment(verificationUrlOrLink: string, code?: string, options?: RequestOptions): Promise<void>;
    /** `POST /s/{token}/verification`: mails a code to `email` if the link's audience admits it. */
    requestVerification(link: string, email: string, options?: RequestOptions): Promise<VerificationPending>;
    /** `POST /s/{token}/verification/confirm`: the mailed code for a viewer token (pass it to `open` as `viewerToken`). */
    confirmVerification(link: string, email: string, code: string, options?: RequestOptions): Promise<ViewerToken>;
}
/** OTLP/HTTP trace export (`POST /otlp/v1/traces`). */
export declare class OtlpApi {
    #private;
    constructor(http: Transport);
    /**
     * Sends an OTLP `ExportTraceServiceRequest`: a JSON object (or its text) as
     * `application/json`, or protobuf bytes as `application/x-protobuf`. Answers the
     * `ExportTraceServiceResponse` (parsed JSON, or protobuf bytes). A body already
     * compressed is sent with `contentEncoding: "gzip"`.
     */
    exportTraces(body: object | string, contentType?: "application/json", options?: OtlpExportOptions): Promise<OtlpExportResponse>;
    exportTraces(body: Uint8Array | Blob, contentType: string, options?: OtlpExportOptions): Promise<Uint8Array | OtlpExportResponse>;
}
