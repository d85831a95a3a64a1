package agentshare_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	agentshare "github.com/agentshare/agentshare/clients/go"
)

// The suite runs against a live server started by scripts/client-tests, which
// sets these variables.
func env(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run the suite with scripts/client-tests go", name)
	}
	return v
}

// alice is a client of the owner alice, with the server from AGENTSHARE_SERVER.
func alice(t *testing.T) *agentshare.Client {
	t.Helper()
	env(t, "AGENTSHARE_SERVER")
	return agentshare.NewClient(env(t, "AGENTSHARE_API_KEY"))
}

// bob is a client of another owner.
func bob(t *testing.T) *agentshare.Client {
	t.Helper()
	env(t, "AGENTSHARE_SERVER")
	return agentshare.NewClient(env(t, "AGENTSHARE_TEST_OTHER_API_KEY"))
}

var unique int64

// name is a text no other test uses.
func name(prefix string) string {
	return fmt.Sprintf("%s %d-%d", prefix, time.Now().UnixNano(), atomic.AddInt64(&unique, 1))
}

// asError returns err as an *agentshare.Error, failing the test when it is not one.
func asError(t *testing.T, err error) *agentshare.Error {
	t.Helper()
	if err == nil {
		t.Fatal("expected an error, got none")
	}
	var apiErr *agentshare.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("expected an *agentshare.Error, got %T: %v", err, err)
	}
	return apiErr
}

// expectError checks that err is the service's answer status/code.
func expectError(t *testing.T, err error, status int, code string) *agentshare.Error {
	t.Helper()
	apiErr := asError(t, err)
	if apiErr.Status != status || apiErr.Code != code {
		t.Fatalf("expected %d %s, got %d %s (%v)", status, code, apiErr.Status, apiErr.Code, apiErr)
	}
	return apiErr
}

// must(f())(t) is f's value, failing the test when f returned an error.
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// finishedTask is a completed task of c with one output (and a private log).
func finishedTask(t *testing.T, c *agentshare.Client, output string) *agentshare.Task {
	t.Helper()
	task := must(c.Tasks.Create(&agentshare.CreateTaskRequest{Title: name("Finished task"), Agent: "coder 1.0", Prompt: "Fix the login bug"}))(t)
	must(c.Events.Append(task.TaskID, &agentshare.AppendEventRequest{Type: agentshare.EventOutput, Name: "Summary", Content: output}))(t)
	must(c.Events.Append(task.TaskID, &agentshare.AppendEventRequest{Type: agentshare.EventLog, Content: "private notes", Private: true}))(t)
	return must(c.Tasks.Update(task.TaskID, &agentshare.UpdateTaskRequest{Status: agentshare.String(agentshare.TaskCompleted)}))(t)
}

// runningTask is a running task of c.
func runningTask(t *testing.T, c *agentshare.Client) *agentshare.Task {
	t.Helper()
	task := must(c.Tasks.Create(&agentshare.CreateTaskRequest{Title: name("Running task")}))(t)
	return must(c.Tasks.Update(task.TaskID, &agentshare.UpdateTaskRequest{Status: agentshare.String(agentshare.TaskRunning)}))(t)
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mailTo waits for a mail to address whose text contains want, and returns its text.
func mailTo(t *testing.T, address, want string) string {
	t.Helper()
	dir := env(t, "AGENTSHARE_TEST_MAIL_DIR")
	var found string
	waitFor(t, 20*time.Second, "a mail to "+address, func() (bool, error) {
		files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
		sort.Strings(files)
		for i := len(files) - 1; i >= 0; i-- {
			text, to, err := readMail(files[i])
			if err != nil {
				continue // still being written
			}
			if strings.Contains(strings.ToLower(to), strings.ToLower(address)) && strings.Contains(text, want) {
				found = text
				return true, nil
			}
		}
		return false, nil
	})
	return found
}

func readMail(path string) (body, to string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	msg, err := mail.ReadMessage(f)
	if err != nil {
		return "", "", err
	}
	var r io.Reader = msg.Body
	switch strings.ToLower(msg.Header.Get("Content-Transfer-Encoding")) {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, msg.Body)
	case "quoted-printable":
		r = quotedprintable.NewReader(msg.Body)
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		return "", "", err
	}
	return string(raw), msg.Header.Get("To"), nil
}

// withTimeout is a context that ends the test's waits.
func withTimeout(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// nextMessage reads the next stream message, failing the test on an error. The
// read has its own deadline, whatever the stream's context does: past it the
// stream is closed and the test fails.
func nextMessage(t *testing.T, s *agentshare.EventStream) *agentshare.StreamMessage {
	t.Helper()
	m, err := nextWithin(s, 20*time.Second)
	if err != nil {
		t.Fatalf("reading the stream: %v", err)
	}
	return m
}

var errStreamStuck = errors.New("no stream message within the test's deadline")

func nextWithin(s *agentshare.EventStream, d time.Duration) (*agentshare.StreamMessage, error) {
	type read struct {
		m   *agentshare.StreamMessage
		err error
	}
	done := make(chan read, 1)
	go func() {
		m, err := s.Next()
		done <- read{m, err}
	}()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.m, r.err
	case <-timer.C:
		s.Close()
		<-done
		return nil, errStreamStuck
	}
}
