package agentshare

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// ShareCodesService creates, reads and revokes the share codes of tasks, and
// exchanges a code for a viewer session. The share-code routes exist under two
// prefixes, /v1/agentrix/tasks/{taskId}/share and /v1/tasks/{taskId}/share, which
// behave the same; each has its methods here (…ViaTasks, …ViaAgentrix).
type ShareCodesService struct{ client *Client }

func agentrixSharePath(taskID string) string {
	return "/v1/agentrix/tasks/" + pathEscape(taskID) + "/share"
}
func tasksSharePath(taskID string) string { return "/v1/tasks/" + pathEscape(taskID) + "/share" }

// Create makes a share code for a task in cloud mode (POST
// /v1/agentrix/tasks/{taskId}/share). A second one rotates the code: the old code
// and every session it issued stop working at once.
func (s *ShareCodesService) Create(taskID string, req *CreateShareCodeRequest) (*ShareCodeCreated, error) {
	return s.CreateContext(context.Background(), taskID, req)
}

// CreateContext is Create with a context.
func (s *ShareCodesService) CreateContext(ctx context.Context, taskID string, req *CreateShareCodeRequest) (*ShareCodeCreated, error) {
	return s.create(ctx, agentrixSharePath(taskID), req)
}

// CreateViaTasks is Create through POST /v1/tasks/{taskId}/share.
func (s *ShareCodesService) CreateViaTasks(taskID string, req *CreateShareCodeRequest) (*ShareCodeCreated, error) {
	return s.CreateViaTasksContext(context.Background(), taskID, req)
}

// CreateViaTasksContext is CreateViaTasks with a context.
func (s *ShareCodesService) CreateViaTasksContext(ctx context.Context, taskID string, req *CreateShareCodeRequest) (*ShareCodeCreated, error) {
	return s.create(ctx, tasksSharePath(taskID), req)
}

func (s *ShareCodesService) create(ctx context.Context, path string, req *CreateShareCodeRequest) (*ShareCodeCreated, error) {
	if req == nil {
		req = &CreateShareCodeRequest{}
	}
	var out ShareCodeCreated
	_, err := s.client.api.do(ctx, call{method: http.MethodPost, path: path, json: req}, false, &out)
	return result(&out, err)
}

// Get returns a task's live share code (GET /v1/tasks/{taskId}/share).
func (s *ShareCodesService) Get(taskID string) (*ShareCodeInfo, error) {
	return s.GetContext(context.Background(), taskID)
}

// GetContext is Get with a context.
func (s *ShareCodesService) GetContext(ctx context.Context, taskID string) (*ShareCodeInfo, error) {
	return s.get(ctx, tasksSharePath(taskID))
}

// GetViaAgentrix is Get through GET /v1/agentrix/tasks/{taskId}/share.
func (s *ShareCodesService) GetViaAgentrix(taskID string) (*ShareCodeInfo, error) {
	return s.GetViaAgentrixContext(context.Background(), taskID)
}

// GetViaAgentrixContext is GetViaAgentrix with a context.
func (s *ShareCodesService) GetViaAgentrixContext(ctx context.Context, taskID string) (*ShareCodeInfo, error) {
	return s.get(ctx, agentrixSharePath(taskID))
}

func (s *ShareCodesService) get(ctx context.Context, path string) (*ShareCodeInfo, error) {
	var out ShareCodeInfo
	_, err := s.client.api.do(ctx, call{method: http.MethodGet, path: path}, false, &out)
	return result(&out, err)
}

// Revoke ends a task's share code and every session it issued, open streams
// included (DELETE /v1/tasks/{taskId}/share).
func (s *ShareCodesService) Revoke(taskID string) error {
	return s.RevokeContext(context.Background(), taskID)
}

// RevokeContext is Revoke with a context.
func (s *ShareCodesService) RevokeContext(ctx context.Context, taskID string) error {
	_, err := s.client.api.do(ctx, call{method: http.MethodDelete, path: tasksSharePath(taskID)}, false, nil)
	return err
}

// RevokeViaAgentrix is Revoke through DELETE /v1/agentrix/tasks/{taskId}/share.
func (s *ShareCodesService) RevokeViaAgentrix(taskID string) error {
	return s.RevokeViaAgentrixContext(context.Background(), taskID)
}

// RevokeViaAgentrixContext is RevokeViaAgentrix with a context.
func (s *ShareCodesService) RevokeViaAgentrixContext(ctx context.Context, taskID string) error {
	_, err := s.client.api.do(ctx, call{method: http.MethodDelete, path: agentrixSharePath(taskID)}, false, nil)
	return err
}

// Exchange trades a share code for a viewer session (no API key is needed or sent).
func (s *ShareCodesService) Exchange(code string) (*ViewerSession, error) {
	return s.ExchangeContext(context.Background(), code)
}

// ExchangeContext is Exchange with a context.
func (s *ShareCodesService) ExchangeContext(ctx context.Context, code string) (*ViewerSession, error) {
	var out ViewerSession
	_, err := s.client.api.do(ctx, call{method: http.MethodGet, path: "/v1/auth/share", query: url.Values{"code": {code}}, noAuth: true}, false, &out)
	if err != nil {
		return nil, err
	}
	out.bind(s.client.api.withToken(out.Token))
	return &out, nil
}

// Session is a viewer session from a token received earlier (ViewerSession.Token).
func (c *Client) Session(token, taskID string) *ViewerSession {
	v := &ViewerSession{Token: token, TokenType: "Bearer", TaskID: taskID}
	v.bind(c.api.withToken(token))
	return v
}

// ViewerSession is what a share code opens: its one task, with the code's
// permissions, until it expires or the code is revoked or rotated.
type ViewerSession struct {
	Token       string          `json:"token"`
	TokenType   string          `json:"tokenType"`
	ExpiresAt   time.Time       `json:"expiresAt"`
	TaskID      string          `json:"taskId"`
	Permissions CodePermissions `json:"permissions"`

	tasks     *TasksService
	events    *EventsService
	artifacts *ArtifactsService
	prs       *PullRequestsService
}

func (v *ViewerSession) bind(api *requester) {
	v.tasks = &TasksService{api}
	v.events = &EventsService{api}
	v.artifacts = &ArtifactsService{api}
	v.prs = &PullRequestsService{api}
}

// Task returns the session's task (without its owner's data).
func (v *ViewerSession) Task() (*Task, error) { return v.TaskContext(context.Background()) }

// TaskContext is Task with a context.
func (v *ViewerSession) TaskContext(ctx context.Context) (*Task, error) {
	return v.tasks.GetContext(ctx, v.TaskID)
}

// Events returns a page of the task's events (all but private ones).
func (v *ViewerSession) Events(opts *ListEventsOptions) (*EventList, error) {
	return v.EventsContext(context.Background(), opts)
}

// EventsContext is Events with a context.
func (v *ViewerSession) EventsContext(ctx context.Context, opts *ListEventsOptions) (*EventList, error) {
	return v.events.ListContext(ctx, v.TaskID, opts)
}

// StreamEvents follows the task live from its first event. The stream ends with
// an "end" message once the task has finished, or a "revoked" one the moment the
// code stops working; it also stops when ctx is cancelled or its deadline passes.
func (v *ViewerSession) StreamEvents(ctx context.Context) (*EventStream, error) {
	return v.events.Stream(ctx, v.TaskID)
}

// StreamEventsAfter is StreamEvents starting after sequence number after.
func (v *ViewerSession) StreamEventsAfter(ctx context.Context, after int64) (*EventStream, error) {
	return v.events.StreamAfter(ctx, v.TaskID, after)
}

// SendMessage sends the task a message (needs canSendMessage); it becomes a
// message event with author "viewer".
func (v *ViewerSession) SendMessage(content string) (*Event, error) {
	return v.SendMessageContext(context.Background(), content)
}

// SendMessageContext is SendMessage with a context.
func (v *ViewerSession) SendMessageContext(ctx context.Context, content string) (*Event, error) {
	return v.tasks.SendMessageContext(ctx, v.TaskID, content)
}

// Artifacts returns the task's files.
func (v *ViewerSession) Artifacts() ([]Artifact, error) {
	return v.ArtifactsContext(context.Background())
}

// ArtifactsContext is Artifacts with a context.
func (v *ViewerSession) ArtifactsContext(ctx context.Context) ([]Artifact, error) {
	return v.artifacts.ListContext(ctx, v.TaskID)
}

// DownloadArtifact returns one of the task's files; the caller must Close it.
func (v *ViewerSession) DownloadArtifact(artifactID string) (*Download, error) {
	return v.DownloadArtifactContext(context.Background(), artifactID)
}

// DownloadArtifactContext is DownloadArtifact with a context.
func (v *ViewerSession) DownloadArtifactContext(ctx context.Context, artifactID string) (*Download, error) {
	return v.artifacts.DownloadContext(ctx, v.TaskID, artifactID)
}

// PullRequests lists the task's pull requests (needs canViewPr).
func (v *ViewerSession) PullRequests() ([]PullRequest, error) {
	return v.PullRequestsContext(context.Background())
}

// PullRequestsContext is PullRequests with a context.
func (v *ViewerSession) PullRequestsContext(ctx context.Context) ([]PullRequest, error) {
	return v.prs.ListContext(ctx, v.TaskID)
}

// PullRequest returns one pull request with its diff (needs canViewPr).
func (v *ViewerSession) PullRequest(number int64) (*PullRequest, error) {
	return v.PullRequestContext(context.Background(), number)
}

// PullRequestContext is PullRequest with a context.
func (v *ViewerSession) PullRequestContext(ctx context.Context, number int64) (*PullRequest, error) {
	return v.prs.GetContext(ctx, v.TaskID, number)
}

// CreatePullRequest opens a pull request from a branch (needs canCreatePr).
func (v *ViewerSession) CreatePullRequest(req *CreatePullRequestRequest) (*PullRequest, error) {
	return v.CreatePullRequestContext(context.Background(), req)
}

// CreatePullRequestContext is CreatePullRequest with a context.
func (v *ViewerSession) CreatePullRequestContext(ctx context.Context, req *CreatePullRequestRequest) (*PullRequest, error) {
	return v.prs.CreateContext(ctx, v.TaskID, req)
}

// ApprovePullRequest approves a pull request (needs canApprovePr).
func (v *ViewerSession) ApprovePullRequest(number int64) (*PullRequest, error) {
	return v.ApprovePullRequestContext(context.Background(), number)
}

// ApprovePullRequestContext is ApprovePullRequest with a context.
func (v *ViewerSession) ApprovePullRequestContext(ctx context.Context, number int64) (*PullRequest, error) {
	return v.prs.ApproveContext(ctx, v.TaskID, number)
}

// MergePullRequest merges a pull request into the task's base branch (needs canMergePr).
func (v *ViewerSession) MergePullRequest(number int64) (*PullRequest, error) {
	return v.MergePullRequestContext(context.Background(), number)
}

// MergePullRequestContext is MergePullRequest with a context.
func (v *ViewerSession) MergePullRequestContext(ctx context.Context, number int64) (*PullRequest, error) {
	return v.prs.MergeContext(ctx, v.TaskID, number)
}
