package agentshare

import (
	"context"
	"net/http"
	"strconv"
)

// PullRequestsService lists, opens, approves and merges the pull requests of a
// task linked to a repository (Tasks.Update with Repository and BaseBranch). An
// owner's API key can do everything a viewer session can.
type PullRequestsService struct{ api *requester }

func prPath(taskID string) string { return "/v1/tasks/" + pathEscape(taskID) + "/pull-requests" }

func prNumberPath(taskID string, number int64) string {
	return prPath(taskID) + "/" + strconv.FormatInt(number, 10)
}

// List returns a task's pull requests.
func (s *PullRequestsService) List(taskID string) ([]PullRequest, error) {
	return s.ListContext(context.Background(), taskID)
}

// ListContext is List with a context.
func (s *PullRequestsService) ListContext(ctx context.Context, taskID string) ([]PullRequest, error) {
	var out struct {
		PullRequests []PullRequest `json:"pull_requests"`
	}
	_, err := s.api.do(ctx, call{method: http.MethodGet, path: prPath(taskID)}, true, &out)
	if err != nil {
		return nil, err
	}
	return out.PullRequests, nil
}

// Create opens a pull request from HeadBranch into the task's base branch.
func (s *PullRequestsService) Create(taskID string, req *CreatePullRequestRequest) (*PullRequest, error) {
	return s.CreateContext(context.Background(), taskID, req)
}

// CreateContext is Create with a context.
func (s *PullRequestsService) CreateContext(ctx context.Context, taskID string, req *CreatePullRequestRequest) (*PullRequest, error) {
	var out PullRequest
	_, err := s.api.do(ctx, call{method: http.MethodPost, path: prPath(taskID), json: req}, true, &out)
	return result(&out, err)
}

// Get returns a pull request with its diff.
func (s *PullRequestsService) Get(taskID string, number int64) (*PullRequest, error) {
	return s.GetContext(context.Background(), taskID, number)
}

// GetContext is Get with a context.
func (s *PullRequestsService) GetContext(ctx context.Context, taskID string, number int64) (*PullRequest, error) {
	var out PullRequest
	_, err := s.api.do(ctx, call{method: http.MethodGet, path: prNumberPath(taskID, number)}, true, &out)
	return result(&out, err)
}

// Approve approves a pull request.
func (s *PullRequestsService) Approve(taskID string, number int64) (*PullRequest, error) {
	return s.ApproveContext(context.Background(), taskID, number)
}

// ApproveContext is Approve with a context.
func (s *PullRequestsService) ApproveContext(ctx context.Context, taskID string, number int64) (*PullRequest, error) {
	var out PullRequest
	_, err := s.api.do(ctx, call{method: http.MethodPost, path: prNumberPath(taskID, number) + "/approve"}, true, &out)
	return result(&out, err)
}

// Merge merges a pull request (fast-forward when it can, else a merge commit).
func (s *PullRequestsService) Merge(taskID string, number int64) (*PullRequest, error) {
	return s.MergeContext(context.Background(), taskID, number)
}

// MergeContext is Merge with a context.
func (s *PullRequestsService) MergeContext(ctx context.Context, taskID string, number int64) (*PullRequest, error) {
	var out PullRequest
	_, err := s.api.do(ctx, call{method: http.MethodPost, path: prNumberPath(taskID, number) + "/merge"}, true, &out)
	return result(&out, err)
}
