//go:build linux || darwin

package agentshare_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	agentshare "github.com/agentshare/agentshare/clients/go"
)

// seedExample is the Go example of seed 001 ("创建分享链接"), as written there.
func seedExample(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("testdata/seed_001_example.go.txt")
	check(t, err)
	// Where the seed documents are beside the repository, the copy must match them.
	seeds, _ := filepath.Glob("../../../shared/seeds/001_*.txt")
	for _, seed := range seeds {
		doc, err := os.ReadFile(seed)
		check(t, err)
		if !bytes.Contains(doc, raw) {
			t.Fatalf("testdata/seed_001_example.go.txt is not the Go example of %s", seed)
		}
	}
	return string(raw)
}

// The seed's example, with only its import line and task id changed, runs as its
// own program against the server and prints the link it made.
func TestSeedExampleRunsAsWritten(t *testing.T) {
	c := alice(t)
	task := finishedTask(t, c, "## Fixed\nThe session cookie was not renewed.")

	source := seedExample(t)
	const importLine = `"github.com/agentrix/agentrix-go"`
	const seedTask = `"task_1234567890abcdef"`
	if strings.Count(source, importLine) != 1 || strings.Count(source, seedTask) != 1 {
		t.Fatal("the seed example no longer has exactly one import line and one task id to replace")
	}
	source = strings.Replace(source, importLine, `agentrix "github.com/agentshare/agentshare/clients/go"`, 1)
	source = strings.Replace(source, seedTask, `"`+task.TaskID+`"`, 1)

	clientDir, err := os.Getwd()
	check(t, err)
	dir := t.TempDir()
	check(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(source), 0o644))
	check(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module seedexample\n\ngo 1.19\n\n"+
		"require github.com/agentshare/agentshare/clients/go v0.0.0\n\n"+
		"replace github.com/agentshare/agentshare/clients/go => "+clientDir+"\n"), 0o644))

	stdout, stderr := runProgram(t, dir, 3*time.Minute, "go", "run", ".")
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("the example printed %d lines:\n%s\nstderr:\n%s", len(lines), stdout, stderr)
	}
	created := regexp.MustCompile(`^Share link created: (http\S+)$`).FindStringSubmatch(lines[0])
	short := regexp.MustCompile(`^Short URL: (http\S+)$`).FindStringSubmatch(lines[1])
	id := regexp.MustCompile(`^Share link ID: (share_\S+)$`).FindStringSubmatch(lines[2])
	if created == nil || short == nil || id == nil {
		t.Fatalf("unexpected output:\n%s\nstderr:\n%s", stdout, stderr)
	}

	// The link exists, with the seed's fields.
	link := must(c.ShareLinks.Get(id[1]))(t)
	if link.URL != created[1] || link.ShortURL != short[1] || link.TaskID != task.TaskID {
		t.Fatalf("link %+v does not match the printed lines", link)
	}
	if link.Title != "Login Bug Fix Results" || link.Description == nil || *link.Description != "Results from fixing the authentication issue" ||
		!link.PasswordProtected || link.MaxViews == nil || *link.MaxViews != 100 || !link.NotifyOnView || link.Status != agentshare.LinkActive ||
		link.Permissions != (agentshare.ShareLinkPermissions{AllowDownload: true, AllowComments: false, ShowMetadata: true}) {
		t.Fatalf("the link's fields: %+v", link)
	}
	if d := time.Until(link.ExpiresAt); d < 29*24*time.Hour || d > 31*24*time.Hour {
		t.Fatalf("expires at %s, not 30 days from now", link.ExpiresAt)
	}
	// And it opens with the seed's password.
	viewer := c.Viewer.Link(link.URL)
	viewer.Password = "securepass123"
	if view := must(viewer.Open())(t); !strings.Contains(view.Outputs[0].Content, "session cookie") {
		t.Fatalf("view: %+v", view)
	}
}

// runProgram runs name in dir with the test's environment plus AGENTRIX_API_KEY,
// and kills it with every process it started when it outlives timeout or the
// test ends.
func runProgram(t *testing.T, dir string, timeout time.Duration, name string, args ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "AGENTRIX_API_KEY="+env(t, "AGENTSHARE_API_KEY"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // go run starts the program as its own child
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	check(t, cmd.Start())
	killGroup := func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	defer killGroup()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("%s: %v", name, err)
			}
			t.Fatalf("%s %v failed: %v\nstdout:\n%s\nstderr:\n%s", name, args, err, stdout.String(), stderr.String())
		}
	case <-ctx.Done():
		killGroup()
		<-done
		t.Fatalf("%s %v did not finish within %s\nstdout:\n%s\nstderr:\n%s", name, args, timeout, stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String()
}
