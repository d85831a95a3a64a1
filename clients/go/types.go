package agentshare

import (
	"encoding/json"
	"time"
)

// ---- Tasks ----

// Task is a task as the API shows it. Viewers (share-code sessions) see it
// without its owner's data (OwnerID is empty).
type Task struct {
	TaskID            string          `json:"task_id"`
	Title             string          `json:"title"`
	Status            string          `json:"status"` // pending, running, completed, failed, cancelled
	Mode              string          `json:"mode"`   // cloud or local
	MachineID         *string         `json:"machine_id"`
	Prompt            *string         `json:"prompt"`
	Agent             *string         `json:"agent"`
	LastEventSeq      int64           `json:"last_event_seq"`
	OwnerID           *string         `json:"owner_id"`
	CreatedAt         time.Time       `json:"created_at"`
	UpdatedAt         time.Time       `json:"updated_at"`
	StartedAt         *time.Time      `json:"started_at"`
	FinishedAt        *time.Time      `json:"finished_at"`
	Repository        *string         `json:"repository"`
	BaseBranch        *string         `json:"base_branch"`
	RequirePRApproval bool            `json:"require_pr_approval"`
	Source            string          `json:"source"` // api, otlp, import, cli
	ExternalID        *string         `json:"external_id"`
	Metadata          json.RawMessage `json:"metadata"`
}

// Task statuses.
const (
	TaskPending   = "pending"
	TaskRunning   = "running"
	TaskCompleted = "completed"
	TaskFailed    = "failed"
	TaskCancelled = "cancelled"
)

// CreateTaskRequest is the body of Tasks.Create. Empty fields are left out.
type CreateTaskRequest struct {
	Title string `json:"title"`
	// Prompt is what the agent was asked.
	Prompt string `json:"prompt,omitempty"`
	// Agent names the agent, e.g. "coder 1.0".
	Agent string `json:"agent,omitempty"`
	// MachineID, when set, puts the task in local mode (it runs on that machine).
	MachineID string `json:"machine_id,omitempty"`
	// Source is api (the default), import or cli.
	Source string `json:"source,omitempty"`
	// ExternalID is the task's id where it came from, unique per owner and source.
	ExternalID string `json:"external_id,omitempty"`
	// Metadata is a JSON object of facts about the run (up to 16 KiB).
	Metadata map[string]any `json:"metadata,omitempty"`
}

// UpdateTaskRequest is the body of Tasks.Update. A nil field is left unchanged;
// the Clear… flags send null, which removes the value (ClearMachineID puts the
// task in cloud mode).
type UpdateTaskRequest struct {
	Title             *string
	Status            *string
	MachineID         *string
	Metadata          map[string]any
	Repository        *string
	BaseBranch        *string
	RequirePRApproval *bool

	ClearMachineID  bool
	ClearMetadata   bool
	ClearRepository bool
	ClearBaseBranch bool
}

// MarshalJSON sends the fields that were given, and null for the cleared ones.
func (r UpdateTaskRequest) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	putString(m, "title", r.Title, false)
	putString(m, "status", r.Status, false)
	putString(m, "machine_id", r.MachineID, r.ClearMachineID)
	putString(m, "repository", r.Repository, r.ClearRepository)
	putString(m, "base_branch", r.BaseBranch, r.ClearBaseBranch)
	if r.ClearMetadata {
		m["metadata"] = nil
	} else if r.Metadata != nil {
		m["metadata"] = r.Metadata
	}
	if r.RequirePRApproval != nil {
		m["require_pr_approval"] = *r.RequirePRApproval
	}
	return json.Marshal(m)
}

func putString(m map[string]any, name string, value *string, clear bool) {
	if clear {
		m[name] = nil
	} else if value != nil {
		m[name] = *value
	}
}

// ListTasksOptions filters and pages Tasks.List. Zero values are left out.
type ListTasksOptions struct {
	Status     string
	Source     string
	ExternalID string
	Limit      int
	Cursor     string
}

// TaskList is one page of tasks, newest first.
type TaskList struct {
	Tasks      []Task  `json:"tasks"`
	HasMore    bool    `json:"has_more"`
	NextCursor *string `json:"next_cursor"`
}

// ---- Events ----

// Event is one event of a task.
type Event struct {
	Seq       int64     `json:"seq"`
	Type      string    `json:"type"` // message, progress, output, log
	Name      *string   `json:"name"`
	Content   string    `json:"content"`
	Author    string    `json:"author"` // e.g. "agent", "owner" or "viewer"
	Private   bool      `json:"private"`
	Key       *string   `json:"key"`
	CreatedAt time.Time `json:"created_at"`
}

// Event types.
const (
	EventMessage  = "message"
	EventProgress = "progress"
	EventOutput   = "output"
	EventLog      = "log"
)

// AppendEventRequest is the body of Events.Append. Empty fields are left out.
type AppendEventRequest struct {
	Type    string `json:"type"`
	Content string `json:"content"`
	// Name titles an output (what share links show under ## name).
	Name string `json:"name,omitempty"`
	// Private keeps the event from everyone the task is shared with.
	Private bool `json:"private,omitempty"`
	// Key makes the append idempotent: an event whose key was used before appends
	// nothing and answers the stored event.
	Key string `json:"key,omitempty"`
	// CreatedAt is when it happened, when that is not now (ISO 8601).
	CreatedAt string `json:"created_at,omitempty"`
}

// ListEventsOptions filters and pages Events.List. Zero values are left out.
type ListEventsOptions struct {
	// After returns the events after this sequence number (NextAfter of a page).
	After int64
	// Type keeps one type of event.
	Type  string
	Limit int
}

// EventList is one page of events, in order.
type EventList struct {
	Events    []Event `json:"events"`
	HasMore   bool    `json:"has_more"`
	NextAfter int64   `json:"next_after"`
}

// ---- Artifacts ----

// Artifact is a file of a task.
type Artifact struct {
	ArtifactID  string    `json:"artifact_id"`
	TaskID      string    `json:"task_id"`
	Name        string    `json:"name"`
	ContentType string    `json:"content_type"`
	SizeBytes   int64     `json:"size_bytes"`
	SHA256      string    `json:"sha256"`
	DownloadURL string    `json:"download_url"`
	CreatedAt   time.Time `json:"created_at"`
}

// ---- Share links ----

// ShareLinkPermissions are what a link's viewers may do. All three flags are
// always sent, so AllowDownload: false really forbids downloads.
type ShareLinkPermissions struct {
	AllowDownload bool `json:"allow_download"`
	AllowComments bool `json:"allow_comments"`
	ShowMetadata  bool `json:"show_metadata"`
}

// Audience is who may open a link: anyone holding it (Type "anyone"), or only
// people who prove an address by a mailed code (Type "emails" with Emails, or
// "domains" with Domains).
type Audience struct {
	Type    string   `json:"type"`
	Emails  []string `json:"emails,omitempty"`
	Domains []string `json:"domains,omitempty"`
}

// AudienceAnyone is an audience of anyone holding the link.
func AudienceAnyone() *Audience { return &Audience{Type: "anyone"} }

// AudienceEmails is an audience of these addresses.
func AudienceEmails(emails ...string) *Audience { return &Audience{Type: "emails", Emails: emails} }

// AudienceDomains is an audience of the addresses at these domains.
func AudienceDomains(domains ...string) *Audience {
	return &Audience{Type: "domains", Domains: domains}
}

// Redaction is what a link hides from its viewers.
type Redaction struct {
	Secrets  bool     `json:"secrets"`
	Emails   bool     `json:"emails"`
	Paths    bool     `json:"paths"`
	Patterns []string `json:"patterns"`
}

// RedactRequest changes what a link hides. A nil flag is left as it is (on
// creation: its default); Patterns nil is left as it is, a non-nil slice (even
// empty) replaces the list.
type RedactRequest struct {
	Secrets  *bool
	Emails   *bool
	Paths    *bool
	Patterns []string
}

// MarshalJSON sends only the parts given.
func (r RedactRequest) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	if r.Secrets != nil {
		m["secrets"] = *r.Secrets
	}
	if r.Emails != nil {
		m["emails"] = *r.Emails
	}
	if r.Paths != nil {
		m["paths"] = *r.Paths
	}
	if r.Patterns != nil {
		m["patterns"] = r.Patterns
	}
	return json.Marshal(m)
}

// CreateShareLinkRequest is the body of ShareLinks.Create (and Preview). Only
// TaskID is required; a zero value means "not given" and takes the server's
// default (title: the task's; expiry: 30 days; permissions: download and
// metadata on, comments off; no password; unlimited views; no notifications).
type CreateShareLinkRequest struct {
	TaskID      string `json:"task_id"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	// ExpiresAt is an ISO 8601 time (e.g. time.RFC3339); one without a zone is UTC.
	ExpiresAt string `json:"expires_at,omitempty"`
	// Password (8–32 characters) protects the link.
	Password    string                `json:"password,omitempty"`
	Permissions *ShareLinkPermissions `json:"permissions,omitempty"`
	// MaxViews limits the views; 0 is unlimited.
	MaxViews     int  `json:"max_views,omitempty"`
	NotifyOnView bool `json:"notify_on_view,omitempty"`
	// MaskSecrets is another name for Redact.Secrets.
	MaskSecrets *bool          `json:"mask_secrets,omitempty"`
	Redact      *RedactRequest `json:"redact,omitempty"`
	Audience    *Audience      `json:"audience,omitempty"`
	// Content is "live" (the default) or "snapshot" (frozen when made).
	Content string `json:"content,omitempty"`
}

// UpdateShareLinkRequest is the body of ShareLinks.Update. A nil field (or false
// flag) is left unchanged; the Clear… flags send null: ClearPassword removes the
// password, ClearMaxViews makes views unlimited, ClearDescription removes the
// description. Permissions, when given, sets all three flags.
type UpdateShareLinkRequest struct {
	Title        *string
	Description  *string
	ExpiresAt    *string
	Password     *string
	Permissions  *ShareLinkPermissions
	MaxViews     *int
	NotifyOnView *bool
	MaskSecrets  *bool
	Redact       *RedactRequest
	Audience     *Audience

	ClearDescription bool
	ClearPassword    bool
	ClearMaxViews    bool
}

// MarshalJSON sends the fields that were given, and null for the cleared ones.
func (r UpdateShareLinkRequest) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	putString(m, "title", r.Title, false)
	putString(m, "description", r.Description, r.ClearDescription)
	putString(m, "expires_at", r.ExpiresAt, false)
	putString(m, "password", r.Password, r.ClearPassword)
	if r.Permissions != nil {
		m["permissions"] = r.Permissions
	}
	if r.ClearMaxViews {
		m["max_views"] = nil
	} else if r.MaxViews != nil {
		m["max_views"] = *r.MaxViews
	}
	if r.NotifyOnView != nil {
		m["notify_on_view"] = *r.NotifyOnView
	}
	if r.MaskSecrets != nil {
		m["mask_secrets"] = *r.MaskSecrets
	}
	if r.Redact != nil {
		m["redact"] = r.Redact
	}
	if r.Audience != nil {
		m["audience"] = r.Audience
	}
	return json.Marshal(m)
}

// ShareLink is a share link as its owner sees it.
type ShareLink struct {
	ShareLinkID       string               `json:"share_link_id"`
	TaskID            string               `json:"task_id"`
	Title             string               `json:"title"`
	Description       *string              `json:"description"`
	URL               string               `json:"url"`
	ShortURL          string               `json:"short_url"`
	PasswordProtected bool                 `json:"password_protected"`
	ExpiresAt         time.Time            `json:"expires_at"`
	MaxViews          *int                 `json:"max_views"` // nil: unlimited
	ViewCount         int                  `json:"view_count"`
	Permissions       ShareLinkPermissions `json:"permissions"`
	CreatedAt         time.Time            `json:"created_at"`
	CreatedBy         string               `json:"created_by"`
	Status            string               `json:"status"` // active, expired, revoked
	NotifyOnView      bool                 `json:"notify_on_view"`
	MaskSecrets       bool                 `json:"mask_secrets"`
	Redact            Redaction            `json:"redact"`
	Audience          Audience             `json:"audience"`
	Content           string               `json:"content"` // live or snapshot
	UpdatedAt         time.Time            `json:"updated_at"`
	RevokedAt         *time.Time           `json:"revoked_at"`
}

// Share link statuses.
const (
	LinkActive  = "active"
	LinkExpired = "expired"
	LinkRevoked = "revoked"
)

// ListShareLinksOptions filters and pages ShareLinks.List. Zero values are left out.
type ListShareLinksOptions struct {
	TaskID string
	Status string
	Limit  int
	Cursor string
}

// ShareLinkList is one page of share links, newest first.
type ShareLinkList struct {
	ShareLinks []ShareLink `json:"share_links"`
	HasMore    bool        `json:"has_more"`
	NextCursor *string     `json:"next_cursor"`
}

// ValueViews counts views by one value (a country, a browser…).
type ValueViews struct {
	Value string `json:"value"`
	Views int64  `json:"views"`
}

// DailyViews counts views of one day (YYYY-MM-DD).
type DailyViews struct {
	Date  string `json:"date"`
	Views int64  `json:"views"`
}

// ShareLinkAnalytics is who looked at a link.
type ShareLinkAnalytics struct {
	ShareLinkID      string       `json:"share_link_id"`
	TotalViews       int64        `json:"total_views"`
	UniqueViews      int64        `json:"unique_views"`
	FirstViewedAt    *time.Time   `json:"first_viewed_at"`
	LastViewedAt     *time.Time   `json:"last_viewed_at"`
	ViewsByDay       []DailyViews `json:"views_by_day"`
	Countries        []ValueViews `json:"countries"`
	Referrers        []ValueViews `json:"referrers"`
	Browsers         []ValueViews `json:"browsers"`
	OperatingSystems []ValueViews `json:"operating_systems"`
	Devices          []ValueViews `json:"devices"`
	Viewers          []ValueViews `json:"viewers"`
}

// ActivityEntry is one thing a viewer did with a link.
type ActivityEntry struct {
	// Kind is opened, revealed, password_failed, verification_sent,
	// verification_succeeded, downloaded, commented or refused.
	Kind      string    `json:"kind"`
	At        time.Time `json:"at"`
	Client    *string   `json:"client"`
	Agent     string    `json:"agent"`
	Browser   string    `json:"browser"`
	Email     *string   `json:"email"`
	File      *string   `json:"file"`
	CommentID *string   `json:"comment_id"`
}

// ActivityOptions pages ShareLinks.Activity. Zero values are left out.
type ActivityOptions struct {
	Limit  int
	Cursor string
}

// ActivityList is one page of a link's activity, newest first.
type ActivityList struct {
	Activity   []ActivityEntry `json:"activity"`
	HasMore    bool            `json:"has_more"`
	NextCursor *string         `json:"next_cursor"`
}

// Comment is a comment on a link as its owner sees it (with the author's address).
type Comment struct {
	CommentID  string     `json:"comment_id"`
	Name       string     `json:"name"`
	Email      string     `json:"email"`
	Content    string     `json:"content"`
	Status     string     `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	VerifiedAt *time.Time `json:"verified_at"`
}

// PreviewFinding is something the shared content holds (a secret, an address…).
type PreviewFinding struct {
	Kind     string `json:"kind"` // secret, email, path, ip_address, pattern, not_scanned
	Location struct {
		Type string  `json:"type"`
		Name *string `json:"name"`
	} `json:"location"`
	Count    int      `json:"count"`
	Samples  []string `json:"samples"`
	Pattern  *string  `json:"pattern"`
	Redacted bool     `json:"redacted"`
	Reason   *string  `json:"reason"`
}

// LinkPreview is what the first viewer of a link would get, and what its content holds.
type LinkPreview struct {
	View     SharedView       `json:"view"`
	Findings []PreviewFinding `json:"findings"`
}

// RevokeAllRequest is the body of ShareLinks.RevokeAll: every active link of the
// owner (of TaskID, when given), and with IncludeCodes every live share code too.
type RevokeAllRequest struct {
	TaskID       string `json:"task_id,omitempty"`
	IncludeCodes bool   `json:"include_codes,omitempty"`
}

// RevokedAll counts what ShareLinks.RevokeAll revoked.
type RevokedAll struct {
	RevokedLinks int64 `json:"revoked_links"`
	RevokedCodes int64 `json:"revoked_codes"`
}

// ---- The link viewer ----

// SharedView is what a link's viewer gets.
type SharedView struct {
	ShareLinkID    string               `json:"share_link_id"`
	Title          string               `json:"title"`
	Description    *string              `json:"description"`
	Outputs        []SharedOutput       `json:"outputs"`
	Metadata       *SharedMetadata      `json:"metadata"`  // nil without show_metadata
	Artifacts      []SharedArtifact     `json:"artifacts"` // nil without allow_download
	Comments       []SharedComment      `json:"comments"`
	Permissions    ShareLinkPermissions `json:"permissions"`
	ExpiresAt      time.Time            `json:"expires_at"`
	ViewCount      int                  `json:"view_count"`
	MaxViews       *int                 `json:"max_views"`
	ViewsRemaining *int                 `json:"views_remaining"`
	// Grant proves this view: downloads and comments need it.
	Grant string `json:"grant"`
}

// SharedOutput is one output of a shared task.
type SharedOutput struct {
	Name      string    `json:"name"`
	Content   string    `json:"content"`
	CreatedAt time.Time `json:"created_at"`
}

// SharedMetadata is the shared task's details.
type SharedMetadata struct {
	Status          string     `json:"status"`
	Agent           *string    `json:"agent"`
	CreatedAt       time.Time  `json:"created_at"`
	StartedAt       *time.Time `json:"started_at"`
	FinishedAt      *time.Time `json:"finished_at"`
	DurationSeconds *float64   `json:"duration_seconds"`
}

// SharedArtifact is a file of a shared task; DownloadURL carries the view's grant.
type SharedArtifact struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	SizeBytes   int64  `json:"size_bytes"`
	SHA256      string `json:"sha256"`
	DownloadURL string `json:"download_url"`
}

// SharedComment is a verified comment as viewers see it.
type SharedComment struct {
	CommentID string    `json:"comment_id"`
	Name      string    `json:"name"`
	Content   string    `json:"content"`
	CreatedAt time.Time `json:"created_at"`
}

// PostCommentRequest is a viewer's comment; Grant is the SharedView's.
type PostCommentRequest struct {
	Name    string `json:"name"`
	Email   string `json:"email"`
	Content string `json:"content"`
	Grant   string `json:"grant"`
}

// CommentPending is a posted comment awaiting its author's verification.
type CommentPending struct {
	CommentID string `json:"comment_id"`
	Status    string `json:"status"`
}

// VerificationPending answers a request for a verification code.
type VerificationPending struct {
	Status string `json:"status"`
}

// ViewerToken proves an address for one link.
type ViewerToken struct {
	ViewerToken      string `json:"viewer_token"`
	ExpiresInSeconds int64  `json:"expires_in_seconds"`
}

// ---- Share codes and viewer sessions ----

// CodePermissions are what a share code lets its viewers do.
type CodePermissions struct {
	CanSendMessage bool `json:"canSendMessage"`
	CanCreatePr    bool `json:"canCreatePr"`
	CanApprovePr   bool `json:"canApprovePr"`
	CanViewPr      bool `json:"canViewPr"`
	CanMergePr     bool `json:"canMergePr"`
}

// CreateShareCodeRequest is the body of ShareCodes.Create. Permissions, when
// given, sends all five flags; without it the code is view-only (with
// canViewPr). ExpiresAt (ISO 8601) is optional.
type CreateShareCodeRequest struct {
	Permissions *CodePermissions `json:"permissions,omitempty"`
	ExpiresAt   string           `json:"expiresAt,omitempty"`
}

// ShareCodeCreated is a new share code.
type ShareCodeCreated struct {
	ShareCode string `json:"shareCode"`
}

// ShareCodeInfo is a task's live share code.
type ShareCodeInfo struct {
	ShareCode      string          `json:"shareCode"`
	TaskID         string          `json:"taskId"`
	Permissions    CodePermissions `json:"permissions"`
	CreatedAt      time.Time       `json:"createdAt"`
	ExpiresAt      *time.Time      `json:"expiresAt"`
	SessionsIssued int64           `json:"sessionsIssued"`
	LastUsedAt     *time.Time      `json:"lastUsedAt"`
}

// ---- Pull requests ----

// PullRequest is a pull request of a task's repository.
type PullRequest struct {
	Number      int64      `json:"number"`
	Title       string     `json:"title"`
	Description *string    `json:"description"`
	HeadBranch  string     `json:"head_branch"`
	BaseBranch  string     `json:"base_branch"`
	Status      string     `json:"status"` // open, merged…
	Author      string     `json:"author"`
	Approvals   int64      `json:"approvals"`
	MergeCommit *string    `json:"merge_commit"`
	MergedAt    *time.Time `json:"merged_at"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	Diff        *Diff      `json:"diff"` // with Get only
}

// Diff is what a pull request changes.
type Diff struct {
	BaseSHA        string       `json:"base_sha"`
	HeadSHA        string       `json:"head_sha"`
	Files          []FileChange `json:"files"`
	Insertions     int64        `json:"insertions"`
	Deletions      int64        `json:"deletions"`
	Patch          string       `json:"patch"`
	PatchTruncated bool         `json:"patch_truncated"`
}

// FileChange is one file a pull request changes.
type FileChange struct {
	Path       string  `json:"path"`
	OldPath    *string `json:"old_path"`
	Status     string  `json:"status"`
	Insertions int64   `json:"insertions"`
	Deletions  int64   `json:"deletions"`
	Binary     bool    `json:"binary"`
}

// CreatePullRequestRequest is the body of a new pull request.
type CreatePullRequestRequest struct {
	Title       string `json:"title"`
	HeadBranch  string `json:"head_branch"`
	Description string `json:"description,omitempty"`
}

// ---- Webhooks ----

// Webhook is an endpoint that receives events.
type Webhook struct {
	WebhookID           string    `json:"webhook_id"`
	URL                 string    `json:"url"`
	Events              []string  `json:"events"`
	Description         *string   `json:"description"`
	Status              string    `json:"status"` // active, failing, disabled
	ConsecutiveFailures int64     `json:"consecutive_failures"`
	Secret              *string   `json:"secret"` // on creation and rotation only
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
}

// Webhook event types.
const (
	WebhookShareLinkViewed   = "share_link.viewed"
	WebhookShareLinkCreated  = "share_link.created"
	WebhookShareLinkRevoked  = "share_link.revoked"
	WebhookShareLinkExpired  = "share_link.expired"
	WebhookCommentCreated    = "comment.created"
	WebhookTaskShareAccessed = "task_share.accessed"
)

// CreateWebhookRequest is the body of Webhooks.Create.
type CreateWebhookRequest struct {
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description,omitempty"`
}

// UpdateWebhookRequest is the body of Webhooks.Update. A nil field is left
// unchanged; ClearDescription sends null; RotateSecret issues a new secret (in
// the answer's Secret).
type UpdateWebhookRequest struct {
	URL          *string
	Events       []string
	Description  *string
	Status       *string // active or disabled
	RotateSecret bool

	ClearDescription bool
}

// MarshalJSON sends the fields that were given, and null for the cleared ones.
func (r UpdateWebhookRequest) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	putString(m, "url", r.URL, false)
	putString(m, "description", r.Description, r.ClearDescription)
	putString(m, "status", r.Status, false)
	if r.Events != nil {
		m["events"] = r.Events
	}
	if r.RotateSecret {
		m["rotate_secret"] = true
	}
	return json.Marshal(m)
}

// Delivery is one attempt to deliver an event to a webhook.
type Delivery struct {
	AttemptID      string    `json:"attempt_id"`
	EventID        string    `json:"event_id"`
	EventType      string    `json:"event_type"`
	DeliveryStatus string    `json:"delivery_status"`
	Attempts       int64     `json:"attempts"`
	StatusCode     *int      `json:"status_code"`
	Error          *string   `json:"error"`
	LatencyMS      int64     `json:"latency_ms"`
	AttemptedAt    time.Time `json:"attempted_at"`
}

// TestEventQueued answers Webhooks.Test.
type TestEventQueued struct {
	EventID string `json:"event_id"`
}

// ---- Settings ----

// SharingPolicy is the rules every new or changed link and code of the owner
// must meet. Settings.UpdateSharingPolicy replaces the whole policy: every field
// is sent (MaxLinkLifetimeDays nil: no maximum). The defaults are no maximum,
// RequirePassword and RequireAudience false, AllowShareCodeWrite true.
type SharingPolicy struct {
	MaxLinkLifetimeDays *int `json:"max_link_lifetime_days"`
	RequirePassword     bool `json:"require_password"`
	RequireAudience     bool `json:"require_audience"`
	AllowShareCodeWrite bool `json:"allow_share_code_write"`
}

// ---- Health ----

// Health is the service's state.
type Health struct {
	Status   string `json:"status"`   // "ok"
	Database string `json:"database"` // sqlite or postgres
}
