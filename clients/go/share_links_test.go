package agentshare_test

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	agentshare "github.com/agentshare/agentshare/clients/go"
)

func future(days int) string { return time.Now().AddDate(0, 0, days).UTC().Format(time.RFC3339) }

// Permissions set to false must reach the server as false: left out, the server
// would take its defaults (downloads and metadata on).
func TestFalsePermissionsAreSent(t *testing.T) {
	c := alice(t)
	task := finishedTask(t, c, "## Fixed")
	must(c.Artifacts.Upload(task.TaskID, "notes.txt", "text/plain", strings.NewReader("notes")))(t)
	link := must(c.ShareLinks.Create(&agentshare.CreateShareLinkRequest{
		TaskID:      task.TaskID,
		Permissions: &agentshare.ShareLinkPermissions{AllowDownload: false, AllowComments: false, ShowMetadata: false},
	}))(t)
	if link.Permissions != (agentshare.ShareLinkPermissions{}) {
		t.Fatalf("permissions stored: %+v", link.Permissions)
	}
	view := must(c.Viewer.Link(link.URL).Open())(t)
	if view.Artifacts != nil || view.Metadata != nil {
		t.Fatalf("a viewer got files %v or details %v", view.Artifacts, view.Metadata)
	}
	// Defaults, for contrast: a link made without permissions allows downloads.
	plain := must(c.ShareLinks.Create(&agentshare.CreateShareLinkRequest{TaskID: task.TaskID}))(t)
	if !plain.Permissions.AllowDownload || !plain.Permissions.ShowMetadata || plain.MaxViews != nil || plain.PasswordProtected {
		t.Fatalf("defaults: %+v", plain)
	}
}

func TestShareLinkGetListUpdateRevoke(t *testing.T) {
	c := alice(t)
	task := finishedTask(t, c, "## Result")
	link := must(c.ShareLinks.Create(&agentshare.CreateShareLinkRequest{
		TaskID: task.TaskID, Title: "Results", Description: "For the team", ExpiresAt: future(10),
		Password: "securepass123", MaxViews: 3, NotifyOnView: true,
	}))(t)
	if !link.PasswordProtected || link.MaxViews == nil || *link.MaxViews != 3 || link.Status != agentshare.LinkActive ||
		!link.NotifyOnView || link.Description == nil || *link.Description != "For the team" || !strings.HasPrefix(link.ShortURL, "http") {
		t.Fatalf("created: %+v", link)
	}
	if got := must(c.ShareLinks.Get(link.ShareLinkID))(t); got.URL != link.URL || got.Title != "Results" {
		t.Fatalf("got %+v", got)
	}

	// Partial updates: given fields change, others stay; Clear… sends null.
	updated := must(c.ShareLinks.Update(link.ShareLinkID, &agentshare.UpdateShareLinkRequest{MaxViews: agentshare.Int(5)}))(t)
	if *updated.MaxViews != 5 || !updated.PasswordProtected || updated.Title != "Results" {
		t.Fatalf("after max_views 5: %+v", updated)
	}
	updated = must(c.ShareLinks.Update(link.ShareLinkID, &agentshare.UpdateShareLinkRequest{
		ClearPassword: true, ClearMaxViews: true, ClearDescription: true,
		Permissions: &agentshare.ShareLinkPermissions{AllowDownload: false, AllowComments: true, ShowMetadata: true},
	}))(t)
	if updated.PasswordProtected || updated.MaxViews != nil || updated.Description != nil || updated.Title != "Results" ||
		updated.Permissions.AllowDownload || !updated.Permissions.AllowComments {
		t.Fatalf("after clearing: %+v", updated)
	}
	// Without a password, the link opens without one.
	if view := must(c.Viewer.Link(link.URL).Open())(t); view.Title != "Results" {
		t.Fatalf("view: %+v", view)
	}

	// Listing by task, a page at a time.
	second := must(c.ShareLinks.Create(&agentshare.CreateShareLinkRequest{TaskID: task.TaskID}))(t)
	page := must(c.ShareLinks.List(&agentshare.ListShareLinksOptions{TaskID: task.TaskID, Limit: 1}))(t)
	if len(page.ShareLinks) != 1 || page.ShareLinks[0].ShareLinkID != second.ShareLinkID || !page.HasMore || page.NextCursor == nil {
		t.Fatalf("first page: %+v", page)
	}
	next := must(c.ShareLinks.List(&agentshare.ListShareLinksOptions{TaskID: task.TaskID, Limit: 1, Cursor: *page.NextCursor}))(t)
	if len(next.ShareLinks) != 1 || next.ShareLinks[0].ShareLinkID != link.ShareLinkID || next.HasMore {
		t.Fatalf("second page: %+v", next)
	}

	revoked := must(c.ShareLinks.Revoke(link.ShareLinkID))(t)
	if revoked.Status != agentshare.LinkRevoked || revoked.RevokedAt == nil {
		t.Fatalf("revoked: %+v", revoked)
	}
	_, err := c.ShareLinks.Update(link.ShareLinkID, &agentshare.UpdateShareLinkRequest{Title: agentshare.String("again")})
	expectError(t, err, 409, "SHARE_LINK_REVOKED")
	_, err = c.Viewer.Link(link.URL).Open()
	expectError(t, err, 404, "SHARE_LINK_NOT_FOUND")
	active := must(c.ShareLinks.List(&agentshare.ListShareLinksOptions{TaskID: task.TaskID, Status: agentshare.LinkActive}))(t)
	if len(active.ShareLinks) != 1 || active.ShareLinks[0].ShareLinkID != second.ShareLinkID {
		t.Fatalf("active links: %+v", active.ShareLinks)
	}

	_, err = c.ShareLinks.Create(&agentshare.CreateShareLinkRequest{TaskID: runningTask(t, c).TaskID})
	expectError(t, err, 403, "TASK_NOT_COMPLETED")
	_, err = bob(t).ShareLinks.Get(second.ShareLinkID)
	expectError(t, err, 404, "SHARE_LINK_NOT_FOUND")
}

func TestViewingAProtectedLinkWithDownloads(t *testing.T) {
	c := alice(t)
	task := finishedTask(t, c, "## Fixed\nThe session cookie was not renewed.")
	pdf := bytes.Repeat([]byte("%PDF-1.4 fake"), 1000)
	art := must(c.Artifacts.Upload(task.TaskID, "report.pdf", "application/pdf", bytes.NewReader(pdf)))(t)
	link := must(c.ShareLinks.Create(&agentshare.CreateShareLinkRequest{
		TaskID: task.TaskID, Title: "Login Bug Fix Results", Password: "securepass123",
		Permissions: &agentshare.ShareLinkPermissions{AllowDownload: true, ShowMetadata: true},
	}))(t)

	viewer := c.Viewer.Link(link.URL)
	_, err := viewer.Open()
	expectError(t, err, 401, "PASSWORD_REQUIRED")
	viewer.Password = "wrong-password"
	_, err = viewer.Open()
	expectError(t, err, 401, "INVALID_PASSWORD")
	viewer.Password = "securepass123"
	view := must(viewer.Open())(t)
	if view.Title != "Login Bug Fix Results" || len(view.Outputs) != 1 || view.Outputs[0].Name != "Summary" ||
		!strings.Contains(view.Outputs[0].Content, "session cookie") || view.ViewCount != 1 || view.Grant == "" {
		t.Fatalf("view: %+v", view)
	}
	if view.Metadata == nil || view.Metadata.Status != agentshare.TaskCompleted || len(view.Artifacts) != 1 {
		t.Fatalf("metadata %+v, artifacts %+v", view.Metadata, view.Artifacts)
	}

	read := func(d *agentshare.Download, err error) []byte {
		t.Helper()
		check(t, err)
		defer d.Close()
		b, err := io.ReadAll(d)
		check(t, err)
		return b
	}
	if got := read(viewer.Download(art.ArtifactID, view.Grant)); !bytes.Equal(got, pdf) {
		t.Fatalf("downloaded %d bytes", len(got))
	}
	if got := read(viewer.DownloadFile(withTimeout(t, 20*time.Second), view.Artifacts[0].DownloadURL)); !bytes.Equal(got, pdf) {
		t.Fatalf("downloaded %d bytes from download_url", len(got))
	}
	_, err = viewer.Download(art.ArtifactID, "not-a-grant")
	expectError(t, err, 401, "VIEW_REQUIRED")
	zipped := read(viewer.DownloadAll(view.Grant))
	archive, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	check(t, err)
	if len(archive.File) != 1 || archive.File[0].Name != "report.pdf" {
		t.Fatalf("zip holds %v", archive.File)
	}

	md := must(viewer.OpenMarkdown())(t)
	if !strings.HasPrefix(md, "# Login Bug Fix Results") || !strings.Contains(md, "session cookie") {
		t.Fatalf("markdown: %q", md)
	}
	page := must(viewer.Reveal())(t)
	if !strings.Contains(page, "session cookie") {
		t.Fatal("the revealed page does not show the output")
	}
	viewer.Password = "wrong-password"
	_, err = viewer.Reveal()
	if apiErr := asError(t, err); apiErr.Status != 401 || apiErr.Body == "" {
		t.Fatalf("reveal with a wrong password: %+v", apiErr)
	}

	stats := must(c.ShareLinks.Analytics(link.ShareLinkID))(t)
	if stats.ShareLinkID != link.ShareLinkID || stats.TotalViews != 3 || stats.UniqueViews != 1 || len(stats.ViewsByDay) != 1 {
		t.Fatalf("analytics after three views: %+v", stats)
	}

	// Entries are written beside the answer, not before it: wait (at most 10 s) for
	// the download's.
	var activity *agentshare.ActivityList
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		activity = must(c.ShareLinks.Activity(link.ShareLinkID, &agentshare.ActivityOptions{Limit: 200}))(t)
		if hasKind(activity, "downloaded") || time.Now().After(deadline) {
			break
		}
	}
	kinds := map[string]bool{}
	for _, a := range activity.Activity {
		kinds[a.Kind] = true
	}
	for _, want := range []string{"password_failed", "revealed", "downloaded"} {
		if !kinds[want] {
			t.Errorf("activity lacks %q: %v", want, kinds)
		}
	}
	page1 := must(c.ShareLinks.Activity(link.ShareLinkID, &agentshare.ActivityOptions{Limit: 1}))(t)
	if len(page1.Activity) != 1 || !page1.HasMore || page1.NextCursor == nil {
		t.Fatalf("activity page of 1: %+v", page1)
	}
	page2 := must(c.ShareLinks.Activity(link.ShareLinkID, &agentshare.ActivityOptions{Limit: 1, Cursor: *page1.NextCursor}))(t)
	if len(page2.Activity) != 1 || page2.Activity[0] == page1.Activity[0] {
		t.Fatalf("second activity page: %+v", page2)
	}
	rows, err := csv.NewReader(bytes.NewReader(read(c.ShareLinks.ActivityCSV(link.ShareLinkID)))).ReadAll()
	check(t, err)
	if len(rows) != len(activity.Activity)+1 || !strings.Contains(strings.Join(rows[1], ","), "downloaded") && !strings.Contains(strings.Join(flatten(rows), ","), "downloaded") {
		t.Fatalf("CSV rows: %v (JSON has %d entries)", rows, len(activity.Activity))
	}
}

func flatten(rows [][]string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

func TestCommentsAreVerifiedListedAndDeleted(t *testing.T) {
	c := alice(t)
	task := finishedTask(t, c, "## Done")
	link := must(c.ShareLinks.Create(&agentshare.CreateShareLinkRequest{
		TaskID: task.TaskID, Title: "Commentable",
		Permissions: &agentshare.ShareLinkPermissions{AllowDownload: true, AllowComments: true, ShowMetadata: true},
	}))(t)
	viewer := c.Viewer.Link(link.URL)
	view := must(viewer.Open())(t)
	email := strings.ReplaceAll(name("carol"), " ", "-") + "@example.org"
	pending := must(viewer.PostComment(&agentshare.PostCommentRequest{Name: "Carol", Email: email, Content: "Looks good!", Grant: view.Grant}))(t)
	if pending.Status != "pending_verification" || pending.CommentID == "" {
		t.Fatalf("posted: %+v", pending)
	}
	_, err := viewer.PostComment(&agentshare.PostCommentRequest{Name: "Carol", Email: email, Content: "x", Grant: "bad"})
	expectError(t, err, 404, "SHARE_LINK_NOT_FOUND")

	text := mailTo(t, email, "/comments/verify?code=")
	code := regexp.MustCompile(`/comments/verify\?code=([A-Za-z0-9_\-]+)`).FindStringSubmatch(text)
	if code == nil {
		t.Fatalf("no verification link in %q", text)
	}
	check(t, viewer.VerifyComment(code[1]))

	comments := must(c.ShareLinks.Comments(link.ShareLinkID))(t)
	if len(comments) != 1 || comments[0].CommentID != pending.CommentID || comments[0].Email != email || comments[0].VerifiedAt == nil {
		t.Fatalf("owner's comments: %+v", comments)
	}
	shown := must(viewer.Open())(t)
	if len(shown.Comments) != 1 || shown.Comments[0].Content != "Looks good!" {
		t.Fatalf("viewer's comments: %+v", shown.Comments)
	}

	check(t, c.ShareLinks.DeleteComment(link.ShareLinkID, pending.CommentID))
	if after := must(viewer.Open())(t); len(after.Comments) != 0 {
		t.Fatalf("a deleted comment is still shown: %+v", after.Comments)
	}
	expectError(t, c.ShareLinks.DeleteComment(link.ShareLinkID, pending.CommentID), 404, "COMMENT_NOT_FOUND")

	// On a link without comments, posting is refused.
	closed := must(c.ShareLinks.Create(&agentshare.CreateShareLinkRequest{TaskID: task.TaskID}))(t)
	closedViewer := c.Viewer.Link(closed.URL)
	grant := must(closedViewer.Open())(t).Grant
	_, err = closedViewer.PostComment(&agentshare.PostCommentRequest{Name: "Carol", Email: email, Content: "Hi", Grant: grant})
	expectError(t, err, 403, "COMMENTS_NOT_ALLOWED")
}

func TestAudienceVerification(t *testing.T) {
	c := alice(t)
	task := finishedTask(t, c, "## For members")
	member := strings.ReplaceAll(name("ana"), " ", "-") + "@example.com"
	link := must(c.ShareLinks.Create(&agentshare.CreateShareLinkRequest{TaskID: task.TaskID, Audience: agentshare.AudienceEmails(member)}))(t)
	if link.Audience.Type != "emails" || len(link.Audience.Emails) != 1 || link.Audience.Emails[0] != member {
		t.Fatalf("audience: %+v", link.Audience)
	}
	viewer := c.Viewer.Link(link.URL)
	_, err := viewer.Open()
	expectError(t, err, 401, "VERIFICATION_REQUIRED")

	pending := must(viewer.RequestVerification(member))(t)
	if pending.Status != "pending" {
		t.Fatalf("request: %+v", pending)
	}
	text := mailTo(t, member, "Your code")
	code := regexp.MustCompile(`\b(\d{6})\b`).FindStringSubmatch(text)
	if code == nil {
		t.Fatalf("no code in %q", text)
	}
	_, err = viewer.ConfirmVerification(member, "000000")
	if code[1] != "000000" {
		expectError(t, err, 401, "VERIFICATION_FAILED")
	}
	token := must(viewer.ConfirmVerification(member, code[1]))(t)
	if token.ViewerToken == "" || viewer.ViewerToken != token.ViewerToken || token.ExpiresInSeconds <= 0 {
		t.Fatalf("token: %+v", token)
	}
	view := must(viewer.Open())(t)
	if view.Outputs[0].Content != "## For members" {
		t.Fatalf("view: %+v", view)
	}
	// The audience can be replaced.
	widened := must(c.ShareLinks.Update(link.ShareLinkID, &agentshare.UpdateShareLinkRequest{Audience: agentshare.AudienceDomains("example.org")}))(t)
	if widened.Audience.Type != "domains" || len(widened.Audience.Domains) != 1 || widened.Audience.Domains[0] != "example.org" {
		t.Fatalf("audience after the change: %+v", widened.Audience)
	}
	// Opened to anyone, it opens without a token on the next view.
	stranger := c.Viewer.Link(link.URL)
	_, err = stranger.Open()
	expectError(t, err, 401, "VERIFICATION_REQUIRED")
	must(c.ShareLinks.Update(link.ShareLinkID, &agentshare.UpdateShareLinkRequest{Audience: agentshare.AudienceAnyone()}))(t)
	if view := must(stranger.Open())(t); view.Outputs[0].Content != "## For members" {
		t.Fatalf("view after opening to anyone: %+v", view)
	}
}

func TestPreviewAndRevokeAll(t *testing.T) {
	c := alice(t)
	task := finishedTask(t, c, "Mailed ops@example.com the logs of /home/alice/agent")
	preview := must(c.ShareLinks.Preview(&agentshare.CreateShareLinkRequest{
		TaskID: task.TaskID, Title: "Weekly report",
		Redact: &agentshare.RedactRequest{Emails: agentshare.Bool(true)},
	}))(t)
	if preview.View.Title != "Weekly report" || !strings.Contains(preview.View.Outputs[0].Content, "[email hidden]") {
		t.Fatalf("preview view: %+v", preview.View)
	}
	kinds := map[string]bool{}
	for _, f := range preview.Findings {
		kinds[f.Kind+"/"+map[bool]string{true: "hidden", false: "shown"}[f.Redacted]] = true
	}
	if !kinds["email/hidden"] || !kinds["path/shown"] {
		t.Fatalf("findings: %+v", preview.Findings)
	}
	if links := must(c.ShareLinks.List(&agentshare.ListShareLinksOptions{TaskID: task.TaskID}))(t); len(links.ShareLinks) != 0 {
		t.Fatal("a preview created a link")
	}
	_, err := c.ShareLinks.Preview(&agentshare.CreateShareLinkRequest{TaskID: task.TaskID, Redact: &agentshare.RedactRequest{Patterns: []string{"("}}})
	if apiErr := expectError(t, err, 400, "INVALID_REQUEST"); !strings.HasPrefix(apiErr.Field, "redact.patterns") {
		t.Fatalf("field %q", apiErr.Field)
	}

	for i := 0; i < 2; i++ {
		must(c.ShareLinks.Create(&agentshare.CreateShareLinkRequest{TaskID: task.TaskID}))(t)
	}
	must(c.ShareCodes.Create(task.TaskID, nil))(t)
	result := must(c.ShareLinks.RevokeAll(&agentshare.RevokeAllRequest{TaskID: task.TaskID, IncludeCodes: true}))(t)
	if result.RevokedLinks != 2 || result.RevokedCodes != 1 {
		t.Fatalf("revoked: %+v", result)
	}
	if active := must(c.ShareLinks.List(&agentshare.ListShareLinksOptions{TaskID: task.TaskID, Status: agentshare.LinkActive}))(t); len(active.ShareLinks) != 0 {
		t.Fatalf("still active: %+v", active.ShareLinks)
	}
	_, err = c.ShareCodes.Get(task.TaskID)
	expectError(t, err, 404, "SHARE_NOT_FOUND")
}

func TestSharingPolicy(t *testing.T) {
	c := bob(t) // bob's policy, so alice's tests are not affected
	defaults := must(c.Settings.SharingPolicy())(t)
	if defaults.MaxLinkLifetimeDays != nil || defaults.RequirePassword || defaults.RequireAudience || !defaults.AllowShareCodeWrite {
		t.Fatalf("defaults: %+v", defaults)
	}
	t.Cleanup(func() { _, _ = c.Settings.UpdateSharingPolicy(defaults) })

	set := must(c.Settings.UpdateSharingPolicy(&agentshare.SharingPolicy{MaxLinkLifetimeDays: agentshare.Int(14), RequirePassword: true, AllowShareCodeWrite: false}))(t)
	if set.MaxLinkLifetimeDays == nil || *set.MaxLinkLifetimeDays != 14 || !set.RequirePassword || set.AllowShareCodeWrite {
		t.Fatalf("set: %+v", set)
	}
	task := finishedTask(t, c, "## Bob's")
	_, err := c.ShareLinks.Create(&agentshare.CreateShareLinkRequest{TaskID: task.TaskID})
	if apiErr := expectError(t, err, 400, "INVALID_REQUEST"); apiErr.Field != "password" {
		t.Fatalf("field %q", apiErr.Field)
	}
	_, err = c.ShareLinks.Create(&agentshare.CreateShareLinkRequest{TaskID: task.TaskID, Password: "securepass123", ExpiresAt: future(30)})
	if apiErr := expectError(t, err, 400, "INVALID_REQUEST"); apiErr.Field != "expires_at" {
		t.Fatalf("field %q", apiErr.Field)
	}
	link := must(c.ShareLinks.Create(&agentshare.CreateShareLinkRequest{TaskID: task.TaskID, Password: "securepass123"}))(t)
	_, err = c.ShareLinks.Update(link.ShareLinkID, &agentshare.UpdateShareLinkRequest{ClearPassword: true})
	expectError(t, err, 400, "INVALID_REQUEST")
	running := runningTask(t, c)
	_, err = c.ShareCodes.Create(running.TaskID, &agentshare.CreateShareCodeRequest{Permissions: &agentshare.CodePermissions{CanSendMessage: true}})
	if apiErr := expectError(t, err, 400, "INVALID_REQUEST"); !strings.Contains(apiErr.Message, "canSendMessage") {
		t.Fatalf("message %q", apiErr.Message)
	}

	back := must(c.Settings.UpdateSharingPolicy(defaults))(t)
	if *back != *defaults {
		t.Fatalf("restored %+v, want %+v", back, defaults)
	}
}

func hasKind(page *agentshare.ActivityList, kind string) bool {
	for _, a := range page.Activity {
		if a.Kind == kind {
			return true
		}
	}
	return false
}
