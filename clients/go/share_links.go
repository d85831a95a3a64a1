package agentshare

import (
	"context"
	"net/http"
	"net/url"
)

// ShareLinksService creates and manages share links: public URLs to a finished
// task's outputs.
type ShareLinksService struct{ api *requester }

func linkPath(id string) string { return "/v1/share-links/" + pathEscape(id) }

// Create makes a share link of a finished task.
func (s *ShareLinksService) Create(req *CreateShareLinkRequest) (*ShareLink, error) {
	return s.CreateContext(context.Background(), req)
}

// CreateContext is Create with a context.
func (s *ShareLinksService) CreateContext(ctx context.Context, req *CreateShareLinkRequest) (*ShareLink, error) {
	var out ShareLink
	_, err := s.api.do(ctx, call{method: http.MethodPost, path: "/v1/share-links", json: req}, true, &out)
	return result(&out, err)
}

// Preview checks a new link's request exactly as Create does, creates nothing,
// and returns what its first viewer would get and what the content holds.
func (s *ShareLinksService) Preview(req *CreateShareLinkRequest) (*LinkPreview, error) {
	return s.PreviewContext(context.Background(), req)
}

// PreviewContext is Preview with a context.
func (s *ShareLinksService) PreviewContext(ctx context.Context, req *CreateShareLinkRequest) (*LinkPreview, error) {
	var out LinkPreview
	_, err := s.api.do(ctx, call{method: http.MethodPost, path: "/v1/share-links/preview", json: req}, true, &out)
	return result(&out, err)
}

// Get returns one of the owner's links.
func (s *ShareLinksService) Get(shareLinkID string) (*ShareLink, error) {
	return s.GetContext(context.Background(), shareLinkID)
}

// GetContext is Get with a context.
func (s *ShareLinksService) GetContext(ctx context.Context, shareLinkID string) (*ShareLink, error) {
	var out ShareLink
	_, err := s.api.do(ctx, call{method: http.MethodGet, path: linkPath(shareLinkID)}, true, &out)
	return result(&out, err)
}

// List returns a page of the owner's links, newest first; follow NextCursor
// with opts.Cursor for the next page.
func (s *ShareLinksService) List(opts *ListShareLinksOptions) (*ShareLinkList, error) {
	return s.ListContext(context.Background(), opts)
}

// ListContext is List with a context.
func (s *ShareLinksService) ListContext(ctx context.Context, opts *ListShareLinksOptions) (*ShareLinkList, error) {
	q := url.Values{}
	if opts != nil {
		setString(q, "task_id", opts.TaskID)
		setString(q, "status", opts.Status)
		setInt(q, "limit", int64(opts.Limit))
		setString(q, "cursor", opts.Cursor)
	}
	var out ShareLinkList
	_, err := s.api.do(ctx, call{method: http.MethodGet, path: "/v1/share-links", query: q}, true, &out)
	return result(&out, err)
}

// Update changes a link; see UpdateShareLinkRequest for leaving a field as it
// is versus removing it.
func (s *ShareLinksService) Update(shareLinkID string, req *UpdateShareLinkRequest) (*ShareLink, error) {
	return s.UpdateContext(context.Background(), shareLinkID, req)
}

// UpdateContext is Update with a context.
func (s *ShareLinksService) UpdateContext(ctx context.Context, shareLinkID string, req *UpdateShareLinkRequest) (*ShareLink, error) {
	if req == nil {
		req = &UpdateShareLinkRequest{}
	}
	var out ShareLink
	_, err := s.api.do(ctx, call{method: http.MethodPatch, path: linkPath(shareLinkID), json: req}, true, &out)
	return result(&out, err)
}

// Revoke ends a link at once, for good. Revoking a revoked link changes nothing.
func (s *ShareLinksService) Revoke(shareLinkID string) (*ShareLink, error) {
	return s.RevokeContext(context.Background(), shareLinkID)
}

// RevokeContext is Revoke with a context.
func (s *ShareLinksService) RevokeContext(ctx context.Context, shareLinkID string) (*ShareLink, error) {
	var out ShareLink
	_, err := s.api.do(ctx, call{method: http.MethodDelete, path: linkPath(shareLinkID)}, true, &out)
	return result(&out, err)
}

// RevokeAll revokes every active link of the owner (or of one task), and with
// IncludeCodes every live share code too.
func (s *ShareLinksService) RevokeAll(req *RevokeAllRequest) (*RevokedAll, error) {
	return s.RevokeAllContext(context.Background(), req)
}

// RevokeAllContext is RevokeAll with a context.
func (s *ShareLinksService) RevokeAllContext(ctx context.Context, req *RevokeAllRequest) (*RevokedAll, error) {
	if req == nil {
		req = &RevokeAllRequest{}
	}
	var out RevokedAll
	_, err := s.api.do(ctx, call{method: http.MethodPost, path: "/v1/share-links/revoke-all", json: req}, true, &out)
	return result(&out, err)
}

// Analytics returns who looked at a link.
func (s *ShareLinksService) Analytics(shareLinkID string) (*ShareLinkAnalytics, error) {
	return s.AnalyticsContext(context.Background(), shareLinkID)
}

// AnalyticsContext is Analytics with a context.
func (s *ShareLinksService) AnalyticsContext(ctx context.Context, shareLinkID string) (*ShareLinkAnalytics, error) {
	var out ShareLinkAnalytics
	_, err := s.api.do(ctx, call{method: http.MethodGet, path: linkPath(shareLinkID) + "/analytics"}, true, &out)
	return result(&out, err)
}

// Activity returns a page of what viewers did with a link, newest first.
func (s *ShareLinksService) Activity(shareLinkID string, opts *ActivityOptions) (*ActivityList, error) {
	return s.ActivityContext(context.Background(), shareLinkID, opts)
}

// ActivityContext is Activity with a context.
func (s *ShareLinksService) ActivityContext(ctx context.Context, shareLinkID string, opts *ActivityOptions) (*ActivityList, error) {
	q := url.Values{}
	if opts != nil {
		setInt(q, "limit", int64(opts.Limit))
		setString(q, "cursor", opts.Cursor)
	}
	var out ActivityList
	_, err := s.api.do(ctx, call{method: http.MethodGet, path: linkPath(shareLinkID) + "/activity", query: q}, true, &out)
	return result(&out, err)
}

// ActivityCSV returns a link's whole activity log as CSV (RFC 4180, with a header
// row); the caller must Close it.
func (s *ShareLinksService) ActivityCSV(shareLinkID string) (*Download, error) {
	return s.ActivityCSVContext(context.Background(), shareLinkID)
}

// ActivityCSVContext is ActivityCSV with a context; ctx also bounds reading it.
func (s *ShareLinksService) ActivityCSVContext(ctx context.Context, shareLinkID string) (*Download, error) {
	return download(ctx, s.api, call{method: http.MethodGet, path: linkPath(shareLinkID) + "/activity", query: url.Values{"format": {"csv"}}, accept: "text/csv"})
}

// Comments returns every comment on a link, verified or not, with its author's address.
func (s *ShareLinksService) Comments(shareLinkID string) ([]Comment, error) {
	return s.CommentsContext(context.Background(), shareLinkID)
}

// CommentsContext is Comments with a context.
func (s *ShareLinksService) CommentsContext(ctx context.Context, shareLinkID string) ([]Comment, error) {
	var out struct {
		Comments []Comment `json:"comments"`
	}
	_, err := s.api.do(ctx, call{method: http.MethodGet, path: linkPath(shareLinkID) + "/comments"}, true, &out)
	if err != nil {
		return nil, err
	}
	return out.Comments, nil
}

// DeleteComment hides a comment from everyone.
func (s *ShareLinksService) DeleteComment(shareLinkID, commentID string) error {
	return s.DeleteCommentContext(context.Background(), shareLinkID, commentID)
}

// DeleteCommentContext is DeleteComment with a context.
func (s *ShareLinksService) DeleteCommentContext(ctx context.Context, shareLinkID, commentID string) error {
	_, err := s.api.do(ctx, call{method: http.MethodDelete, path: linkPath(shareLinkID) + "/comments/" + pathEscape(commentID)}, false, nil)
	return err
}
