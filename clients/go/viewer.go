package agentshare

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// ViewerService opens share links as their viewers do: without an API key.
type ViewerService struct{ api *requester }

// Link is a viewer of the share link at linkURL (a ShareLink's URL), or of the
// link with this token on the client's server.
func (s *ViewerService) Link(linkURL string) *LinkViewer {
	if !strings.Contains(linkURL, "://") {
		linkURL = s.api.base + "/s/" + pathEscape(linkURL)
	}
	return &LinkViewer{URL: strings.TrimRight(linkURL, "/"), api: s.api}
}

// LinkViewer reads one share link as a viewer: its shared view, files, comments
// and audience verification. Set Password for a protected link; ViewerToken
// proves an address for a link limited to an audience (ConfirmVerification sets it).
type LinkViewer struct {
	URL         string
	Password    string
	ViewerToken string

	api *requester
}

func (v *LinkViewer) headers() http.Header {
	h := http.Header{}
	if v.Password != "" {
		h.Set("X-Share-Password", v.Password)
	}
	if v.ViewerToken != "" {
		h.Set("X-Share-Viewer", v.ViewerToken)
	}
	return h
}

// Open returns the shared view as JSON. It spends one view of a view-limited
// link; its Grant lets downloads and comments follow for an hour.
func (v *LinkViewer) Open() (*SharedView, error) { return v.OpenContext(context.Background()) }

// OpenContext is Open with a context.
func (v *LinkViewer) OpenContext(ctx context.Context) (*SharedView, error) {
	var out SharedView
	_, err := v.api.do(ctx, call{method: http.MethodGet, path: v.URL, header: v.headers(), noAuth: true}, true, &out)
	return result(&out, err)
}

// OpenMarkdown returns the shared view as one markdown document (it spends a
// view the same way Open does).
func (v *LinkViewer) OpenMarkdown() (string, error) {
	return v.OpenMarkdownContext(context.Background())
}

// OpenMarkdownContext is OpenMarkdown with a context.
func (v *LinkViewer) OpenMarkdownContext(ctx context.Context) (string, error) {
	return v.text(ctx, call{method: http.MethodGet, path: v.URL, header: v.headers(), noAuth: true, accept: "text/markdown"})
}

// Reveal posts the page's password form (or its Reveal button) as a browser
// does and returns the page of the shared view (HTML). It spends one view.
func (v *LinkViewer) Reveal() (string, error) { return v.RevealContext(context.Background()) }

// RevealContext is Reveal with a context.
func (v *LinkViewer) RevealContext(ctx context.Context) (string, error) {
	form := url.Values{}
	if v.Password != "" {
		form.Set("password", v.Password)
	}
	return v.text(ctx, call{
		method: http.MethodPost, path: v.URL, header: v.headers(), noAuth: true, accept: "text/html",
		body: strings.NewReader(form.Encode()), ctype: "application/x-www-form-urlencoded",
	})
}

// Download returns one file of the link, with the grant of a view (SharedView.Grant);
// the caller must Close it.
func (v *LinkViewer) Download(artifactID, grant string) (*Download, error) {
	return v.DownloadContext(context.Background(), artifactID, grant)
}

// DownloadContext is Download with a context; ctx also bounds reading the file.
func (v *LinkViewer) DownloadContext(ctx context.Context, artifactID, grant string) (*Download, error) {
	return download(ctx, v.api, call{method: http.MethodGet, path: v.URL + "/artifacts/" + pathEscape(artifactID),
		query: url.Values{"grant": {grant}}, noAuth: true, accept: "*/*"})
}

// DownloadFile returns the file at a SharedArtifact's DownloadURL (which carries
// its grant); the caller must Close it.
func (v *LinkViewer) DownloadFile(ctx context.Context, downloadURL string) (*Download, error) {
	return download(ctx, v.api, call{method: http.MethodGet, path: downloadURL, noAuth: true, accept: "*/*"})
}

// DownloadAll returns every file of the link in one zip archive, with the grant
// of a view; the caller must Close it.
func (v *LinkViewer) DownloadAll(grant string) (*Download, error) {
	return v.DownloadAllContext(context.Background(), grant)
}

// DownloadAllContext is DownloadAll with a context; ctx also bounds reading it.
func (v *LinkViewer) DownloadAllContext(ctx context.Context, grant string) (*Download, error) {
	return download(ctx, v.api, call{method: http.MethodGet, path: v.URL + "/artifacts.zip",
		query: url.Values{"grant": {grant}}, noAuth: true, accept: "application/zip"})
}

// PostComment leaves a comment (on a link with allow_comments). It is shown once
// its author opens the verification link mailed to them.
func (v *LinkViewer) PostComment(req *PostCommentRequest) (*CommentPending, error) {
	return v.PostCommentContext(context.Background(), req)
}

// PostCommentContext is PostComment with a context.
func (v *LinkViewer) PostCommentContext(ctx context.Context, req *PostCommentRequest) (*CommentPending, error) {
	var out CommentPending
	_, err := v.api.do(ctx, call{method: http.MethodPost, path: v.URL + "/comments", json: req, noAuth: true}, true, &out)
	return result(&out, err)
}

// VerifyComment publishes a comment with the code of the link mailed to its
// author ({url}/comments/verify?code=…).
func (v *LinkViewer) VerifyComment(code string) error {
	return v.VerifyCommentContext(context.Background(), code)
}

// VerifyCommentContext is VerifyComment with a context.
func (v *LinkViewer) VerifyCommentContext(ctx context.Context, code string) error {
	_, err := v.text(ctx, call{method: http.MethodGet, path: v.URL + "/comments/verify",
		query: url.Values{"code": {code}}, noAuth: true, accept: "text/html"})
	return err
}

// RequestVerification asks for a code to be mailed to email, to open a link
// limited to an audience. It answers the same for any address.
func (v *LinkViewer) RequestVerification(email string) (*VerificationPending, error) {
	return v.RequestVerificationContext(context.Background(), email)
}

// RequestVerificationContext is RequestVerification with a context.
func (v *LinkViewer) RequestVerificationContext(ctx context.Context, email string) (*VerificationPending, error) {
	var out VerificationPending
	_, err := v.api.do(ctx, call{method: http.MethodPost, path: v.URL + "/verification",
		json: map[string]string{"email": email}, noAuth: true}, true, &out)
	return result(&out, err)
}

// ConfirmVerification trades the mailed code for a viewer token, and keeps the
// token in ViewerToken for the requests that follow.
func (v *LinkViewer) ConfirmVerification(email, code string) (*ViewerToken, error) {
	return v.ConfirmVerificationContext(context.Background(), email, code)
}

// ConfirmVerificationContext is ConfirmVerification with a context.
func (v *LinkViewer) ConfirmVerificationContext(ctx context.Context, email, code string) (*ViewerToken, error) {
	var out ViewerToken
	_, err := v.api.do(ctx, call{method: http.MethodPost, path: v.URL + "/verification/confirm",
		json: map[string]string{"email": email, "code": code}, noAuth: true}, true, &out)
	if err != nil {
		return nil, err
	}
	v.ViewerToken = out.ViewerToken
	return &out, nil
}

func (v *LinkViewer) text(ctx context.Context, c call) (string, error) {
	resp, err := v.api.send(ctx, c)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return string(raw), err
}
