/** An ISO 8601 timestamp, e.g. `2026-11-22T10:30:00.125Z`. */
export type Timestamp = string;
/** A JSON object. */
export type JsonObject = {
    [key: string]: unknown;
};
export type TaskStatus = "pending" | "running" | "completed" | "failed" | "cancelled";
export type TaskSource = "api" | "otlp" | "import" | "cli";
export interface Task {
    task_id: string;
    title: string;
    status: TaskStatus;
    /** `cloud` (no machine) or `local`. */
    mode: string;
    machine_id?: string | null;
    prompt?: string | null;
    agent?: string | null;
    last_event_seq: number;
    /** Null for a viewer session (owner data is not shared). */
    owner_id?: string | null;
    created_at: Timestamp;
    updated_at: Timestamp;
    started_at?: Timestamp | null;
    finished_at?: Timestamp | null;
    repository?: string | null;
    base_branch?: string | null;
    require_pr_approval: boolean;
    source: TaskSource;
    external_id?: string | null;
    metadata?: JsonObject | null;
}
export interface CreateTaskRequest {
    title: string;
    prompt?: string | null;
    agent?: string | null;
    /** Null or absent: cloud mode; a string: the task runs on that machine. */
    machine_id?: string | null;
    source?: TaskSource | null;
    external_id?: string | null;
    metadata?: JsonObject | null;
}
export interface UpdateTaskRequest {
    title?: string | null;
    status?: TaskStatus | null;
    machine_id?: string | null;
    metadata?: JsonObject | null;
    repository?: string | null;
    base_branch?: string | null;
    require_pr_approval?: boolean | null;
}
export interface ListTasksParams {
    status?: TaskStatus;
    source?: TaskSource;
    external_id?: string;
    /** 1–100, default 20. */
    limit?: number;
    cursor?: string;
}
export interface TaskList {
    tasks: Task[];
    has_more: boolean;
    next_cursor?: string | null;
}
export type EventType = "message" | "progress" | "output" | "log";
export interface TaskEvent {
    seq: number;
    type: EventType;
    /** Who wrote it: `agent`, `owner` or `viewer`. */
    author: string;
    name?: string | null;
    content: string;
    private: boolean;
    key?: string | null;
    created_at: Timestamp;
}
export interface AppendEventRequest {
    type: EventType;
    content: string;
    /** Required for `output` events. */
    name?: string | null;
    /** Kept from everyone the task is shared with. */
    private?: boolean;
    /** Unique within the task: an event posted again with the same key is stored once. */
    key?: string | null;
    /** When it happened, when that is not now. */
    created_at?: string | null;
}
export interface ListEventsParams {
    /** Events after this sequence number (the previous page's `next_after`). */
    after?: number;
    type?: EventType;
    /** 1–1000, default 100. */
    limit?: number;
}
export interface EventList {
    events: TaskEvent[];
    has_more: boolean;
    next_after: number;
}
export type StreamMessageKind = EventType | "end" | "revoked";
/** One message of a task's live event stream (Server-Sent Events). */
export type StreamEvent = {
    /** The event's type. */
    event: EventType;
    /** Its sequence number, as the SSE `id` (resume with `lastEventId`). */
    id: string | null;
    data: TaskEvent;
} | {
    /** The task finished and everything was sent: the last message. */
    event: "end";
    id: string | null;
    /** `{}` */
    data: Record<string, unknown>;
} | {
    /** The share code was revoked, rotated or expired: the last message. */
    event: "revoked";
    id: string | null;
    /** `{}` */
    data: Record<string, unknown>;
};
export interface StreamEventsOptions {
    /** Start after this sequence number. */
    after?: number;
    /** Resume after this SSE id (sent as `Last-Event-ID`). */
    lastEventId?: string;
    /** Ends the stream (the iteration then throws the signal's reason). */
    signal?: AbortSignal;
}
export interface Artifact {
    artifact_id: string;
    task_id: string;
    name: string;
    content_type: string;
    size_bytes: number;
    sha256: string;
    download_url: string;
    created_at: Timestamp;
}
export interface ArtifactList {
    artifacts: Artifact[];
}
/** What an artifact can be uploaded from. */
export type UploadData = string | Uint8Array | ArrayBuffer | Blob;
export interface UploadOptions {
    /** The file's media type; default: the Blob's type, else `application/octet-stream` (`text/plain; charset=utf-8` for a string). */
    contentType?: string;
    signal?: AbortSignal;
}
export interface ShareLinkPermissions {
    allow_download: boolean;
    allow_comments: boolean;
    show_metadata: boolean;
}
export interface ShareLinkPermissionsPatch {
    allow_download?: boolean | null;
    allow_comments?: boolean | null;
    show_metadata?: boolean | null;
}
export interface Redact {
    secrets: boolean;
    emails: boolean;
    paths: boolean;
    patterns: string[];
}
export interface RedactRequest {
    secrets?: boolean | null;
    emails?: boolean | null;
    paths?: boolean | null;
    /** Replaces the list. */
    patterns?: string[] | null;
}
export type Audience = {
    type: "anyone";
} | {
    type: "emails";
    emails: string[];
} | {
    type: "domains";
    domains: string[];
};
export type LinkContent = "live" | "snapshot";
export type ShareLinkStatus = "active" | "expired" | "revoked";
export interface ShareLink {
    share_link_id: string;
    task_id: string;
    title: string;
    description?: string | null;
    url: string;
    short_url: string;
    password_protected: boolean;
    expires_at: Timestamp;
    max_views?: number | null;
    view_count: number;
    permissions: ShareLinkPermissions;
    created_at: Timestamp;
    created_by: string;
    updated_at: Timestamp;
    revoked_at?: Timestamp | null;
    status: ShareLinkStatus;
    notify_on_view: boolean;
    mask_secrets: boolean;
    redact: Redact;
    audience: Audience;
    content: LinkContent;
}
export interface CreateShareLinkRequest {
    task_id: string;
    title?: string | null;
    description?: string | null;
    /** ISO 8601; a time without a zone is read as UTC. Default: 30 days from now. */
    expires_at?: string | null;
    /** 8–32 characters. */
    password?: string | null;
    permissions?: ShareLinkPermissionsPatch | null;
    /** Null: unlimited. */
    max_views?: number | null;
    notify_on_view?: boolean | null;
    /** Another name for `redact.secrets`. */
    mask_secrets?: boolean | null;
    redact?: RedactRequest | null;
    audience?: Audience | null;
    content?: LinkContent | null;
}
/** A change to a link: only the fields given change; `null` removes (description, password, max_views). */
export interface UpdateShareLinkRequest {
    title?: string | null;
    description?: string | null;
    expires_at?: string | null;
    password?: string | null;
    permissions?: ShareLinkPermissionsPatch | null;
    max_views?: number | null;
    notify_on_view?: boolean | null;
    mask_secrets?: boolean | null;
    redact?: RedactRequest | null;
    audience?: Audience | null;
}
export interface ListShareLinksParams {
    task_id?: string;
    status?: ShareLinkStatus;
    limit?: number;
    cursor?: string;
}
export interface ShareLinkList {
    share_links: ShareLink[];
    has_more: boolean;
    next_cursor?: string | null;
}
export interface ValueViews {
    value: string;
    views: number;
}
export interface DailyViews {
    date: string;
    views: number;
}
export interface ShareLinkAnalytics {
    share_link_id: string;
    total_views: number;
    unique_views: number;
    first_viewed_at?: Timestamp | null;
    last_viewed_at?: Timestamp | null;
    views_by_day: DailyViews[];
    countries: ValueViews[];
    referrers: ValueViews[];
    browsers: ValueViews[];
    operating_systems: ValueViews[];
    devices: ValueViews[];
    /** Views by verified address (links with an audience). */
    viewers: ValueViews[];
}
export type ActivityKind = "opened" | "revealed" | "password_failed" | "verification_sent" | "verification_succeeded" | "downloaded" | "commented" | "refused";
export interface ActivityEntry {
    kind: ActivityKind;
    at: Timestamp;
    /** The client address, truncated (IPv4 /24, IPv6 /48). */
    client?: string | null;
    /** `desktop`, `mobile`, `bot` or `other`. */
    agent: string;
    browser: string;
    email?: string | null;
    file?: string | null;
    comment_id?: string | null;
}
export interface ActivityList {
    activity: ActivityEntry[];
    has_more: boolean;
    next_cursor?: string | null;
}
export interface ActivityParams {
    /** 1–200, default 50. */
    limit?: number;
    cursor?: string;
}
export interface Comment {
    comment_id: string;
    name: string;
    email: string;
    content: string;
    /** `pending_verification`, `published` or `deleted`. */
    status: string;
    created_at: Timestamp;
    verified_at?: Timestamp | null;
}
export interface CommentList {
    comments: Comment[];
}
export interface FindingLocation {
    /** `title`, `description`, `output`, `metadata`, `artifact_name` or `artifact`. */
    type: string;
    name?: string | null;
}
export interface PreviewFinding {
    /** `secret`, `email`, `path`, `ip_address`, `pattern` or `not_scanned`. */
    kind: string;
    location: FindingLocation;
    count: number;
    samples: string[];
    pattern?: string | null;
    redacted: boolean;
    reason?: string | null;
}
export interface LinkPreview {
    view: SharedView;
    findings: PreviewFinding[];
}
export interface RevokeAllRequest {
    /** Only this task's links (and codes); default: every link of the owner. */
    task_id?: string | null;
    /** Also revoke live share codes, with every viewer session they issued. */
    include_codes?: boolean | null;
}
export interface RevokedAll {
    revoked_links: number;
    revoked_codes: number;
}
export interface SharedOutput {
    name: string;
    content: string;
    created_at: Timestamp;
}
export interface SharedMetadata {
    status: TaskStatus;
    agent?: string | null;
    created_at: Timestamp;
    started_at?: Timestamp | null;
    finished_at?: Timestamp | null;
    duration_seconds?: number | null;
}
export interface SharedArtifact {
    name: string;
    content_type: string;
    size_bytes: number;
    sha256: string;
    /** Carries this view's grant, good for an hour. */
    download_url: string;
}
export interface SharedComment {
    comment_id: string;
    name: string;
    content: string;
    created_at: Timestamp;
}
export interface SharedView {
    share_link_id: string;
    title: string;
    description?: string | null;
    outputs: SharedOutput[];
    /** Null unless `show_metadata`. */
    metadata?: SharedMetadata | null;
    /** Null unless `allow_download`. */
    artifacts?: SharedArtifact[] | null;
    comments?: SharedComment[] | null;
    permissions: ShareLinkPermissions;
    expires_at: Timestamp;
    view_count: number;
    max_views?: number | null;
    views_remaining?: number | null;
    /** Proves this view: downloads and comments need it. */
    grant: string;
}
export interface OpenLinkOptions {
    /** The link's password (`X-Share-Password`). */
    password?: string;
    /** A viewer token from `confirmVerification`, for a link with an audience (`X-Share-Viewer`). */
    viewerToken?: string;
    signal?: AbortSignal;
}
export interface PostCommentRequest {
    name: string;
    email: string;
    content: string;
    /** The `grant` of a view of the link. */
    grant: string;
}
export interface CommentPending {
    comment_id: string;
    status: string;
}
export interface VerificationPending {
    status: string;
}
export interface ViewerToken {
    viewer_token: string;
    expires_in_seconds: number;
}
export interface SharingPolicy {
    /** 1–3650, or null for no maximum. */
    max_link_lifetime_days?: number | null;
    require_password: boolean;
    require_audience: boolean;
    allow_share_code_write: boolean;
}
/** The whole policy: a field left out takes its default. */
export interface SharingPolicyRequest {
    max_link_lifetime_days?: number | null;
    require_password?: boolean | null;
    require_audience?: boolean | null;
    allow_share_code_write?: boolean | null;
}
export interface ShareCodePermissions {
    canSendMessage: boolean;
    canCreatePr: boolean;
    canApprovePr: boolean;
    canViewPr: boolean;
    canMergePr: boolean;
}
export interface CreateShareCodeRequest {
    /** An omitted permission is false, except `canViewPr` (true). */
    permissions?: Partial<{
        [K in keyof ShareCodePermissions]: boolean | null;
    }> | null;
    expiresAt?: string | null;
}
export interface ShareCodeCreated {
    shareCode: string;
}
export interface ShareCodeInfo {
    shareCode: string;
    taskId: string;
    permissions: ShareCodePermissions;
    createdAt: Timestamp;
    expiresAt?: Timestamp | null;
    sessionsIssued: number;
    lastUsedAt?: Timestamp | null;
}
/** The route family a share-code call uses: seed 003's `/v1/agentrix/tasks/…` or `/v1/tasks/…`. */
export type ShareCodeRoute = "agentrix" | "tasks";
export interface ShareCodeRouteOptions {
    route?: ShareCodeRoute;
    signal?: AbortSignal;
}
export interface ViewerSessionCreated {
    token: string;
    tokenType: string;
    expiresAt: Timestamp;
    taskId: string;
    permissions: ShareCodePermissions;
}
export interface SendMessageRequest {
    content: string;
}
export interface FileChange {
    path: string;
    old_path?: string | null;
    status: string;
    insertions: number;
    deletions: number;
    binary: boolean;
}
export interface Diff {
    base_sha: string;
    head_sha: string;
    files: FileChange[];
    insertions: number;
    deletions: number;
    patch: string;
    patch_truncated: boolean;
}
export interface PullRequest {
    number: number;
    title: string;
    description?: string | null;
    head_branch: string;
    base_branch: string;
    /** `open` or `merged`. */
    status: string;
    author: string;
    approvals: number;
    merge_commit?: string | null;
    merged_at?: Timestamp | null;
    created_at: Timestamp;
    updated_at: Timestamp;
    /** Present when fetched one at a time. */
    diff?: Diff | null;
}
export interface PullRequestList {
    pull_requests: PullRequest[];
}
export interface CreatePullRequestRequest {
    title: string;
    head_branch: string;
    description?: string | null;
}
export type WebhookEventType = "share_link.viewed" | "share_link.created" | "share_link.revoked" | "share_link.expired" | "comment.created" | "task_share.accessed";
export interface Webhook {
    webhook_id: string;
    url: string;
    events: string[];
    description?: string | null;
    /** `active`, `failing` or `disabled`. */
    status: string;
    consecutive_failures: number;
    /** The signing secret: only in the answers that create it or rotate it. */
    secret?: string | null;
    created_at: Timestamp;
    updated_at: Timestamp;
}
export interface WebhookList {
    webhooks: Webhook[];
}
export interface CreateWebhookRequest {
    url: string;
    events: WebhookEventType[];
    description?: string | null;
}
export interface UpdateWebhookRequest {
    url?: string | null;
    events?: WebhookEventType[] | null;
    description?: string | null;
    status?: "active" | "disabled";
    rotate_secret?: boolean;
}
export interface WebhookDelivery {
    attempt_id: string;
    event_id: string;
    event_type: string;
    attempted_at: Timestamp;
    attempts: number;
    delivery_status: string;
    status_code?: number | null;
    error?: string | null;
    latency_ms: number;
}
export interface WebhookDeliveryList {
    deliveries: WebhookDelivery[];
}
export interface TestEventQueued {
    event_id: string;
}
/** An OTLP `ExportTraceServiceResponse` in its JSON encoding. */
export interface OtlpExportResponse {
    partialSuccess?: {
        /** Spans refused (no valid trace or span id, or beyond the per-request maximum). */
        rejectedSpans?: string | number;
        errorMessage?: string;
    };
}
export interface OtlpExportOptions {
    /** `gzip` for a body already compressed with it. */
    contentEncoding?: string;
    signal?: AbortSignal;
}
export interface Health {
    status: string;
    /** `sqlite` or `postgres`. */
    database: string;
}
/** What `GET /readyz` answers. */
export interface Readiness {
    status: "ready" | "not_ready";
    /** `sqlite` or `postgres`. */
    database: string;
    checks: ReadyChecks;
    /** Why the instance is not ready, in words; empty when it is. */
    reasons: string[];
}
/** The checks of `GET /readyz`. */
export interface ReadyChecks {
    database: boolean;
    migrations: boolean;
    view_writer: boolean;
    workers: boolean;
}
/** Per-call options every method takes as its last argument. */
export interface RequestOptions {
    signal?: AbortSignal;
}
