package agentshare_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	agentshare "github.com/agentshare/agentshare/clients/go"
)

func TestTaskLifecycleAndListing(t *testing.T) {
	c := alice(t)
	external := name("run")
	task := must(c.Tasks.Create(&agentshare.CreateTaskRequest{
		Title: "Fix the login bug", Prompt: "Users cannot log in", Agent: "coder 1.0",
		Source: "cli", ExternalID: external, Metadata: map[string]any{"model": "m1"},
	}))(t)
	if task.Status != agentshare.TaskPending || task.Mode != "cloud" || task.Source != "cli" ||
		task.Prompt == nil || *task.Prompt != "Users cannot log in" || !strings.Contains(string(task.Metadata), `"m1"`) {
		t.Fatalf("created task: %+v", task)
	}

	running := must(c.Tasks.Update(task.TaskID, &agentshare.UpdateTaskRequest{Status: agentshare.String(agentshare.TaskRunning), Title: agentshare.String("Fix the login bug, again")}))(t)
	if running.Status != agentshare.TaskRunning || running.StartedAt == nil || running.Title != "Fix the login bug, again" {
		t.Fatalf("running task: %+v", running)
	}
	// Clearing sends null: the metadata goes, the title (not given) stays.
	cleared := must(c.Tasks.Update(task.TaskID, &agentshare.UpdateTaskRequest{ClearMetadata: true}))(t)
	if len(cleared.Metadata) != 0 && string(cleared.Metadata) != "null" || cleared.Title != "Fix the login bug, again" {
		t.Fatalf("after clearing the metadata: metadata %s, title %q", cleared.Metadata, cleared.Title)
	}
	done := must(c.Tasks.Update(task.TaskID, &agentshare.UpdateTaskRequest{Status: agentshare.String(agentshare.TaskCompleted)}))(t)
	if done.FinishedAt == nil {
		t.Fatal("a completed task has no finished_at")
	}
	_, err := c.Tasks.Update(task.TaskID, &agentshare.UpdateTaskRequest{Status: agentshare.String(agentshare.TaskRunning)})
	apiErr := expectError(t, err, 409, "INVALID_STATUS_TRANSITION")
	if apiErr.Details["status"] != "completed" {
		t.Errorf("details: %v", apiErr.Details)
	}

	got := must(c.Tasks.Get(task.TaskID))(t)
	if got.TaskID != task.TaskID || got.Status != agentshare.TaskCompleted {
		t.Fatalf("got %+v", got)
	}
	found := must(c.Tasks.List(&agentshare.ListTasksOptions{Source: "cli", ExternalID: external}))(t)
	if len(found.Tasks) != 1 || found.Tasks[0].TaskID != task.TaskID {
		t.Fatalf("by external id: %+v", found.Tasks)
	}

	// Pages: three new tasks, two at a time, newest first.
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, must(c.Tasks.Create(&agentshare.CreateTaskRequest{Title: name("page")}))(t).TaskID)
	}
	first := must(c.Tasks.List(&agentshare.ListTasksOptions{Status: agentshare.TaskPending, Limit: 2}))(t)
	if len(first.Tasks) != 2 || !first.HasMore || first.NextCursor == nil {
		t.Fatalf("first page: %d tasks, has_more %v", len(first.Tasks), first.HasMore)
	}
	second := must(c.Tasks.List(&agentshare.ListTasksOptions{Status: agentshare.TaskPending, Limit: 2, Cursor: *first.NextCursor}))(t)
	seen := map[string]bool{}
	for _, tk := range append(first.Tasks, second.Tasks...) {
		if seen[tk.TaskID] {
			t.Fatalf("task %s on two pages", tk.TaskID)
		}
		seen[tk.TaskID] = true
	}
	// The newest three (created within a millisecond or two) lead the pages.
	newest := map[string]bool{ids[0]: true, ids[1]: true, ids[2]: true}
	if !newest[first.Tasks[0].TaskID] || !newest[first.Tasks[1].TaskID] || !newest[second.Tasks[0].TaskID] {
		t.Fatalf("pages are not newest first: %v then %v", first.Tasks, second.Tasks)
	}
}

func TestEventsAppendListAndKeys(t *testing.T) {
	c := alice(t)
	task := runningTask(t, c)
	first := must(c.Events.Append(task.TaskID, &agentshare.AppendEventRequest{Type: agentshare.EventProgress, Content: "Reproducing the bug", Key: "step-1"}))(t)
	if !first.Created || first.Seq != 1 || first.Type != agentshare.EventProgress {
		t.Fatalf("first event: %+v", first)
	}
	again := must(c.Events.Append(task.TaskID, &agentshare.AppendEventRequest{Type: agentshare.EventProgress, Content: "Reproducing the bug", Key: "step-1"}))(t)
	if again.Created || again.Seq != first.Seq {
		t.Fatalf("a repeated key appended again: %+v", again)
	}
	must(c.Events.Append(task.TaskID, &agentshare.AppendEventRequest{Type: agentshare.EventOutput, Name: "Summary", Content: "## Fixed"}))(t)
	must(c.Events.Append(task.TaskID, &agentshare.AppendEventRequest{Type: agentshare.EventLog, Content: "when", CreatedAt: "2026-01-02T03:04:05Z"}))(t)

	all := must(c.Events.List(task.TaskID, nil))(t)
	if len(all.Events) != 3 || all.NextAfter != 3 || all.HasMore {
		t.Fatalf("events: %+v", all)
	}
	if !all.Events[2].CreatedAt.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("created_at given: %v", all.Events[2].CreatedAt)
	}
	outputs := must(c.Events.List(task.TaskID, &agentshare.ListEventsOptions{Type: agentshare.EventOutput}))(t)
	if len(outputs.Events) != 1 || *outputs.Events[0].Name != "Summary" {
		t.Fatalf("outputs: %+v", outputs.Events)
	}
	after := must(c.Events.List(task.TaskID, &agentshare.ListEventsOptions{After: 1, Limit: 1}))(t)
	if len(after.Events) != 1 || after.Events[0].Seq != 2 || !after.HasMore {
		t.Fatalf("after 1, limit 1: %+v", after)
	}

	msg := must(c.Tasks.SendMessage(task.TaskID, "Please also fix logout"))(t)
	if msg.Type != agentshare.EventMessage || msg.Content != "Please also fix logout" {
		t.Fatalf("message: %+v", msg)
	}
}

func TestArtifactsUploadDownloadDelete(t *testing.T) {
	c := alice(t)
	task := runningTask(t, c)
	content := bytes.Repeat([]byte("report line\x00\x01\xff\n"), 20000) // ~300 KB, binary
	sum := sha256.Sum256(content)

	art := must(c.Artifacts.Upload(task.TaskID, "report.bin", "application/octet-stream", bytes.NewReader(content)))(t)
	if art.Name != "report.bin" || art.SizeBytes != int64(len(content)) || art.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("uploaded: %+v", art)
	}
	_, err := c.Artifacts.Upload(task.TaskID, "report.bin", "", strings.NewReader("again"))
	expectError(t, err, 409, "ARTIFACT_EXISTS")
	empty := must(c.Artifacts.Upload(task.TaskID, "empty.txt", "text/plain", nil))(t)
	if empty.SizeBytes != 0 {
		t.Fatalf("empty file: %+v", empty)
	}

	list := must(c.Artifacts.List(task.TaskID))(t)
	if len(list) != 2 {
		t.Fatalf("listed %d artifacts", len(list))
	}
	d := must(c.Artifacts.Download(task.TaskID, art.ArtifactID))(t)
	got, err := io.ReadAll(d)
	d.Close()
	check(t, err)
	if !bytes.Equal(got, content) {
		t.Fatalf("downloaded %d bytes, uploaded %d", len(got), len(content))
	}
	if d.Filename != "report.bin" {
		t.Errorf("filename %q", d.Filename)
	}

	check(t, c.Artifacts.Delete(task.TaskID, art.ArtifactID))
	_, err = c.Artifacts.Download(task.TaskID, art.ArtifactID)
	expectError(t, err, 404, "ARTIFACT_NOT_FOUND")
	// Another owner sees no such task.
	_, err = bob(t).Artifacts.List(task.TaskID)
	expectError(t, err, 404, "TASK_NOT_FOUND")
}

func TestOwnerStreamFollowsTheTaskToItsEnd(t *testing.T) {
	c := alice(t)
	task := runningTask(t, c)
	must(c.Events.Append(task.TaskID, &agentshare.AppendEventRequest{Type: agentshare.EventProgress, Content: "one"}))(t)

	ctx := withTimeout(t, 20*time.Second)
	stream := must(c.Events.Stream(ctx, task.TaskID))(t)
	defer stream.Close()
	m := nextMessage(t, stream)
	if m.Type != agentshare.EventProgress || m.Event == nil || m.Event.Content != "one" || m.ID != "1" {
		t.Fatalf("first message: %+v", m)
	}
	// What is appended while the stream is open arrives on it.
	must(c.Events.Append(task.TaskID, &agentshare.AppendEventRequest{Type: agentshare.EventOutput, Name: "Result", Content: "two"}))(t)
	m = nextMessage(t, stream)
	if m.Type != agentshare.EventOutput || m.Event.Content != "two" || m.Event.Seq != 2 {
		t.Fatalf("second message: %+v", m)
	}
	must(c.Tasks.Update(task.TaskID, &agentshare.UpdateTaskRequest{Status: agentshare.String(agentshare.TaskCompleted)}))(t)
	m = nextMessage(t, stream)
	if m.Type != agentshare.StreamEnd || !m.Final() || m.Event != nil {
		t.Fatalf("expected the end message, got %+v", m)
	}
	if _, err := nextWithin(stream, 10*time.Second); !errors.Is(err, io.EOF) {
		t.Fatalf("after the end: %v", err)
	}
	if stream.LastEventID() != "2" {
		t.Errorf("last event id %q", stream.LastEventID())
	}

	// Resuming after the first event starts with the second.
	resumed := must(c.Events.StreamAfter(withTimeout(t, 20*time.Second), task.TaskID, 1))(t)
	defer resumed.Close()
	if m := nextMessage(t, resumed); m.Event == nil || m.Event.Seq != 2 {
		t.Fatalf("resumed with %+v", m)
	}
}

func TestStreamHonoursItsContext(t *testing.T) {
	c := alice(t)
	task := runningTask(t, c)
	ctx := withTimeout(t, 500*time.Millisecond)
	stream := must(c.Events.Stream(ctx, task.TaskID))(t)
	defer stream.Close()
	start := time.Now()
	_, err := nextWithin(stream, 10*time.Second) // nothing comes: the context's deadline ends the wait
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expected the context's deadline, got %v", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("Next returned %s after the deadline", waited)
	}
}
