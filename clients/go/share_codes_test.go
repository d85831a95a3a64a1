package agentshare_test

import (
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	agentshare "github.com/agentshare/agentshare/clients/go"
)

// recorder passes requests to the server and notes their method and path.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.calls = append(r.calls, req.Method+" "+req.URL.Path)
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func (r *recorder) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[len(r.calls)-1]
}

func TestShareCodeOnBothPrefixes(t *testing.T) {
	rec := &recorder{}
	c := agentshare.NewClient(env(t, "AGENTSHARE_API_KEY"), agentshare.WithHTTPClient(&http.Client{Transport: rec}))
	task := runningTask(t, c)
	route := func(want string) {
		t.Helper()
		if got := rec.last(); got != strings.ReplaceAll(want, "{id}", task.TaskID) {
			t.Fatalf("sent %s, want %s", got, want)
		}
	}
	created := must(c.ShareCodes.Create(task.TaskID, &agentshare.CreateShareCodeRequest{
		Permissions: &agentshare.CodePermissions{CanSendMessage: true, CanViewPr: true},
		ExpiresAt:   future(2),
	}))(t)
	route("POST /v1/agentrix/tasks/{id}/share")
	for i, get := range []func(string) (*agentshare.ShareCodeInfo, error){c.ShareCodes.Get, c.ShareCodes.GetViaAgentrix} {
		info := must(get(task.TaskID))(t)
		route([]string{"GET /v1/tasks/{id}/share", "GET /v1/agentrix/tasks/{id}/share"}[i])
		if info.ShareCode != created.ShareCode || info.TaskID != task.TaskID || !info.Permissions.CanSendMessage ||
			info.Permissions.CanMergePr || info.ExpiresAt == nil || info.SessionsIssued != 0 {
			t.Fatalf("info: %+v", info)
		}
	}
	// A second code rotates the first.
	rotated := must(c.ShareCodes.CreateViaTasks(task.TaskID, nil))(t)
	route("POST /v1/tasks/{id}/share")
	if rotated.ShareCode == created.ShareCode {
		t.Fatal("the code did not change")
	}
	_, err := c.ShareCodes.Exchange(created.ShareCode)
	expectError(t, err, 401, "INVALID_SHARE_CODE")
	session := must(c.ShareCodes.Exchange(rotated.ShareCode))(t)
	if session.TaskID != task.TaskID || session.Permissions.CanSendMessage || !session.Permissions.CanViewPr || session.TokenType != "Bearer" {
		t.Fatalf("session of an empty-body code: %+v", session)
	}
	if info := must(c.ShareCodes.Get(task.TaskID))(t); info.SessionsIssued != 1 {
		t.Fatalf("sessions issued: %d", info.SessionsIssued)
	}
	// A view-only session may not send messages.
	_, err = session.SendMessage("hello")
	if apiErr := expectError(t, err, 403, "FORBIDDEN"); apiErr.Details["permission"] != "canSendMessage" {
		t.Fatalf("details: %v", apiErr.Details)
	}

	check(t, c.ShareCodes.RevokeViaAgentrix(task.TaskID))
	route("DELETE /v1/agentrix/tasks/{id}/share")
	_, err = c.ShareCodes.GetViaAgentrix(task.TaskID)
	if apiErr := expectError(t, err, 404, "SHARE_NOT_FOUND"); apiErr.Kind != "not_found" {
		t.Fatalf("kind %q", apiErr.Kind)
	}
	_, err = session.Task()
	expectError(t, err, 401, "UNAUTHORIZED")
	must(c.ShareCodes.Create(task.TaskID, nil))(t)
	check(t, c.ShareCodes.Revoke(task.TaskID))
	route("DELETE /v1/tasks/{id}/share")
	expectError(t, c.ShareCodes.Revoke(task.TaskID), 404, "SHARE_NOT_FOUND")

	// Only the owner's tasks, and only in cloud mode.
	_, err = bob(t).ShareCodes.Create(task.TaskID, nil)
	expectError(t, err, 403, "FORBIDDEN")
	local := must(c.Tasks.Create(&agentshare.CreateTaskRequest{Title: name("local"), MachineID: "laptop"}))(t)
	_, err = c.ShareCodes.Create(local.TaskID, nil)
	expectError(t, err, 409, "TASK_NOT_IN_CLOUD_MODE")
}

func TestViewerSessionFollowsTheTaskLive(t *testing.T) {
	c := alice(t)
	task := runningTask(t, c)
	must(c.Events.Append(task.TaskID, &agentshare.AppendEventRequest{Type: agentshare.EventProgress, Content: "Reading the lock file"}))(t)
	must(c.Events.Append(task.TaskID, &agentshare.AppendEventRequest{Type: agentshare.EventLog, Content: "secret notes", Private: true}))(t)
	must(c.Artifacts.Upload(task.TaskID, "plan.md", "text/markdown", strings.NewReader("# Plan")))(t)
	code := must(c.ShareCodes.Create(task.TaskID, &agentshare.CreateShareCodeRequest{Permissions: &agentshare.CodePermissions{CanSendMessage: true}}))(t)
	session := must(c.ShareCodes.Exchange(code.ShareCode))(t)

	seen := must(session.Task())(t)
	if seen.TaskID != task.TaskID || seen.OwnerID != nil {
		t.Fatalf("the viewer's task: %+v", seen)
	}
	events := must(session.Events(nil))(t)
	if len(events.Events) != 1 || events.Events[0].Content != "Reading the lock file" {
		t.Fatalf("a viewer's events (no private ones): %+v", events.Events)
	}
	files := must(session.Artifacts())(t)
	if len(files) != 1 {
		t.Fatalf("files: %+v", files)
	}
	d := must(session.DownloadArtifact(files[0].ArtifactID))(t)
	body, err := io.ReadAll(d)
	d.Close()
	check(t, err)
	if string(body) != "# Plan" {
		t.Fatalf("file: %q", body)
	}
	// The session reaches its task only.
	_, err = c.Session(session.Token, runningTask(t, c).TaskID).Task()
	expectError(t, err, 404, "TASK_NOT_FOUND")

	stream := must(session.StreamEvents(withTimeout(t, 20*time.Second)))(t)
	defer stream.Close()
	if m := nextMessage(t, stream); m.Event == nil || m.Event.Content != "Reading the lock file" {
		t.Fatalf("first message: %+v", m)
	}
	must(c.Events.Append(task.TaskID, &agentshare.AppendEventRequest{Type: agentshare.EventProgress, Content: "Upgraded 12 packages"}))(t)
	if m := nextMessage(t, stream); m.Event == nil || m.Event.Content != "Upgraded 12 packages" {
		t.Fatalf("live message: %+v", m)
	}
	sent := must(session.SendMessage("Please also fix logout"))(t)
	if sent.Author != "viewer" || sent.Type != agentshare.EventMessage {
		t.Fatalf("sent: %+v", sent)
	}
	if m := nextMessage(t, stream); m.Event == nil || m.Event.Seq != sent.Seq || m.Event.Author != "viewer" {
		t.Fatalf("the message on the stream: %+v", m)
	}

	// A second stream resumes after the last event seen.
	resumed := must(session.StreamEventsAfter(withTimeout(t, 20*time.Second), sent.Seq-1))(t)
	defer resumed.Close()
	if m := nextMessage(t, resumed); m.Event == nil || m.Event.Seq != sent.Seq {
		t.Fatalf("resumed with %+v", m)
	}

	// Revoking the code ends open streams with "revoked".
	check(t, c.ShareCodes.Revoke(task.TaskID))
	m := nextMessage(t, stream)
	if m.Type != agentshare.StreamRevoked || !m.Final() {
		t.Fatalf("expected revoked, got %+v", m)
	}
	if _, err := nextWithin(stream, 10*time.Second); !errors.Is(err, io.EOF) {
		t.Fatalf("after revoked: %v", err)
	}
}

// git runs git in dir, failing the test on an error.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	ctx := withTimeout(t, 60*time.Second)
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestPullRequestsThroughAViewerSession(t *testing.T) {
	c := alice(t)
	repos := env(t, "AGENTSHARE_TEST_REPOSITORIES")
	repo := strings.ReplaceAll(name("acme"), " ", "-") + ".git"
	bare := filepath.Join(repos, repo)
	git(t, repos, "init", "--bare", "-b", "main", repo)
	work := t.TempDir()
	git(t, work, "clone", bare, ".")
	git(t, work, "checkout", "-b", "main")
	git(t, work, "commit", "--allow-empty", "-m", "start")
	git(t, work, "push", "origin", "main")
	git(t, work, "checkout", "-b", "fix-login")
	check(t, os.WriteFile(filepath.Join(work, "login.js"), []byte("cookie.secure = true;\n"), 0o644))
	git(t, work, "add", "login.js")
	git(t, work, "commit", "-m", "Make the cookie secure")
	git(t, work, "push", "origin", "fix-login")
	grant := exec.CommandContext(withTimeout(t, 60*time.Second), env(t, "AGENTSHARE_BIN"), "repositories", "grant", "--owner", "alice", repo,
		"--repositories-dir", repos, "--database-url", env(t, "AGENTSHARE_TEST_DATABASE_URL"))
	if out, err := grant.CombinedOutput(); err != nil {
		t.Fatalf("grant: %v\n%s", err, out)
	}

	task := runningTask(t, c)
	linked := must(c.Tasks.Update(task.TaskID, &agentshare.UpdateTaskRequest{
		Repository: agentshare.String(repo), BaseBranch: agentshare.String("main"), RequirePRApproval: agentshare.Bool(true),
	}))(t)
	if linked.Repository == nil || *linked.Repository != repo || !linked.RequirePRApproval {
		t.Fatalf("linked: %+v", linked)
	}

	// A code that may view and create, but not approve or merge.
	code := must(c.ShareCodes.Create(task.TaskID, &agentshare.CreateShareCodeRequest{Permissions: &agentshare.CodePermissions{CanViewPr: true, CanCreatePr: true}}))(t)
	creator := must(c.ShareCodes.Exchange(code.ShareCode))(t)
	pr := must(creator.CreatePullRequest(&agentshare.CreatePullRequestRequest{Title: "Fix login", HeadBranch: "fix-login", Description: "Secure cookie"}))(t)
	if pr.Number != 1 || pr.Status != "open" || pr.BaseBranch != "main" {
		t.Fatalf("created: %+v", pr)
	}
	_, err := creator.ApprovePullRequest(pr.Number)
	if apiErr := expectError(t, err, 403, "FORBIDDEN"); apiErr.Details["permission"] != "canApprovePr" {
		t.Fatalf("details: %v", apiErr.Details)
	}
	listed := must(creator.PullRequests())(t)
	if len(listed) != 1 || listed[0].Title != "Fix login" {
		t.Fatalf("listed: %+v", listed)
	}
	withDiff := must(creator.PullRequest(pr.Number))(t)
	if withDiff.Diff == nil || len(withDiff.Diff.Files) != 1 || withDiff.Diff.Files[0].Path != "login.js" ||
		withDiff.Diff.Insertions != 1 || !strings.Contains(withDiff.Diff.Patch, "cookie.secure") {
		t.Fatalf("diff: %+v", withDiff.Diff)
	}
	_, err = creator.PullRequest(99)
	expectError(t, err, 404, "PULL_REQUEST_NOT_FOUND")

	// Rotating to a code that may approve and merge.
	code = must(c.ShareCodes.Create(task.TaskID, &agentshare.CreateShareCodeRequest{Permissions: &agentshare.CodePermissions{CanViewPr: true, CanApprovePr: true, CanMergePr: true}}))(t)
	merger := must(c.ShareCodes.Exchange(code.ShareCode))(t)
	_, err = merger.MergePullRequest(pr.Number)
	expectError(t, err, 409, "APPROVAL_REQUIRED")
	approved := must(merger.ApprovePullRequest(pr.Number))(t)
	if approved.Approvals != 1 {
		t.Fatalf("approved: %+v", approved)
	}
	merged := must(merger.MergePullRequest(pr.Number))(t)
	if merged.Status != "merged" || merged.MergedAt == nil || merged.MergeCommit == nil {
		t.Fatalf("merged: %+v", merged)
	}
	if main := git(t, bare, "rev-parse", "main"); main != git(t, work, "rev-parse", "HEAD") {
		t.Fatalf("main is %s after the merge", main)
	}

	// The owner's key reaches the same pull requests.
	owned := must(c.PullRequests.List(task.TaskID))(t)
	if len(owned) != 1 || owned[0].Status != "merged" {
		t.Fatalf("owner's list: %+v", owned)
	}
	if got := must(c.PullRequests.Get(task.TaskID, pr.Number))(t); got.Number != pr.Number {
		t.Fatalf("owner's get: %+v", got)
	}
	_, err = c.PullRequests.Merge(task.TaskID, pr.Number)
	expectError(t, err, 409, "PULL_REQUEST_NOT_OPEN")
	_, err = c.PullRequests.Create(task.TaskID, &agentshare.CreatePullRequestRequest{Title: "Again", HeadBranch: "no-such-branch"})
	expectError(t, err, 409, "BRANCH_NOT_FOUND")
	_, err = c.PullRequests.Approve(task.TaskID, 42)
	expectError(t, err, 404, "PULL_REQUEST_NOT_FOUND")
}
