// Package agentshare is a client for the agentshare HTTP API: tasks, their events
// and artifacts, share links (with their viewers, comments, analytics and activity),
// share codes and the viewer sessions they open (with the live event stream and pull
// requests), webhooks, the sharing policy, OTLP trace export and the health check.
//
// Every method has a context form in the database/sql style: Create(req) is
// CreateContext(context.Background(), req). Methods that hold a connection open
// (event streams, OTLP export) take a context only.
//
// Failed requests return an *Error carrying the HTTP status and the service's
// code, message and details; use errors.As to read it.
package agentshare

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// DefaultServer is the server used when neither WithServer nor the
// AGENTSHARE_SERVER environment variable names one.
const DefaultServer = "http://127.0.0.1:8080"

// Version is this client's version, sent in its User-Agent.
const Version = "0.1.0"

// Client talks to one agentshare server with one API key. It is safe for
// concurrent use.
type Client struct {
	api *requester

	Tasks        *TasksService
	Events       *EventsService
	Artifacts    *ArtifactsService
	ShareLinks   *ShareLinksService
	ShareCodes   *ShareCodesService
	PullRequests *PullRequestsService
	Webhooks     *WebhooksService
	Settings     *SettingsService
	Viewer       *ViewerService
	OTLP         *OTLPService
}

// AgentshareClient is another name for Client.
type AgentshareClient = Client

// AgentrixClient is another name for Client, for code written against the
// Agentrix API documents.
type AgentrixClient = Client

// Option configures a Client.
type Option func(*Client)

// WithServer sets the server's base URL, e.g. "https://share.example.com".
func WithServer(server string) Option {
	return func(c *Client) { c.api.base = strings.TrimRight(server, "/") }
}

// WithHTTPClient sets the *http.Client requests go through (for timeouts,
// proxies or transports of your own). Event streams stay open for as long as
// their context allows, so a Timeout on this client also ends them.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.api.http = hc
		}
	}
}

// WithUserAgent sets the User-Agent sent with every request.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.api.userAgent = ua }
}

// NewClient returns a client that authenticates with apiKey. The server is the
// one given by WithServer, else the AGENTSHARE_SERVER environment variable, else
// DefaultServer.
func NewClient(apiKey string, opts ...Option) *Client {
	server := os.Getenv("AGENTSHARE_SERVER")
	if server == "" {
		server = DefaultServer
	}
	c := &Client{api: &requester{
		base:      strings.TrimRight(server, "/"),
		http:      http.DefaultClient,
		token:     apiKey,
		userAgent: "agentshare-go/" + Version,
	}}
	for _, opt := range opts {
		opt(c)
	}
	c.Tasks = &TasksService{c.api}
	c.Events = &EventsService{c.api}
	c.Artifacts = &ArtifactsService{c.api}
	c.ShareLinks = &ShareLinksService{c.api}
	c.ShareCodes = &ShareCodesService{client: c}
	c.PullRequests = &PullRequestsService{c.api}
	c.Webhooks = &WebhooksService{c.api}
	c.Settings = &SettingsService{c.api}
	c.Viewer = &ViewerService{c.api}
	c.OTLP = &OTLPService{c.api}
	return c
}

// Server is the base URL this client sends requests to.
func (c *Client) Server() string { return c.api.base }

// requester sends requests to one server with one bearer token (an API key or a
// viewer session token; none for the link viewer's routes).
type requester struct {
	base      string
	http      *http.Client
	token     string
	userAgent string
}

// withToken is a requester to the same server with another bearer token.
func (r *requester) withToken(token string) *requester {
	copy := *r
	copy.token = token
	return &copy
}

// call describes one request.
type call struct {
	method  string
	path    string // below the base URL, or an absolute URL
	query   url.Values
	json    any       // a body sent as JSON, when not nil
	body    io.Reader // a raw body, when not nil
	ctype   string    // the raw body's Content-Type
	header  http.Header
	noAuth  bool
	accept  string
	okCodes []int // statuses that count as success (default: any 2xx)
}

func (r *requester) url(path string) string {
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		return path
	}
	return r.base + path
}

// send performs the call and returns the response when its status is a success;
// otherwise it reads the body into an *Error.
func (r *requester) send(ctx context.Context, c call) (*http.Response, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	target := r.url(c.path)
	if len(c.query) > 0 {
		if strings.Contains(target, "?") {
			target += "&" + c.query.Encode()
		} else {
			target += "?" + c.query.Encode()
		}
	}
	var body io.Reader
	ctype := ""
	if c.json != nil {
		encoded, err := json.Marshal(c.json)
		if err != nil {
			return nil, fmt.Errorf("agentshare: encoding the request: %w", err)
		}
		body = bytes.NewReader(encoded)
		ctype = "application/json"
	} else if c.body != nil {
		body = c.body
		ctype = c.ctype
	}
	req, err := http.NewRequestWithContext(ctx, c.method, target, body)
	if err != nil {
		return nil, fmt.Errorf("agentshare: %w", err)
	}
	for name, values := range c.header {
		for _, v := range values {
			req.Header.Add(name, v)
		}
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	accept := c.accept
	if accept == "" {
		accept = "application/json"
	}
	req.Header.Set("Accept", accept)
	if r.userAgent != "" {
		req.Header.Set("User-Agent", r.userAgent)
	}
	if !c.noAuth && r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("agentshare: %s %s: %w", c.method, c.path, err)
	}
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if len(c.okCodes) > 0 {
		ok = false
		for _, code := range c.okCodes {
			if resp.StatusCode == code {
				ok = true
			}
		}
	}
	if !ok {
		defer resp.Body.Close()
		return nil, errorFromResponse(resp)
	}
	return resp, nil
}

// do performs the call and decodes its JSON answer into out: the "data" of the
// owner API's envelope when envelope is true, the whole body otherwise.
func (r *requester) do(ctx context.Context, c call, envelope bool, out any) (*http.Response, error) {
	resp, err := r.send(ctx, c)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp, nil
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp, fmt.Errorf("agentshare: reading the answer: %w", err)
	}
	if envelope {
		var env struct {
			Success bool            `json:"success"`
			Data    json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(raw, &env); err != nil {
			return resp, fmt.Errorf("agentshare: the answer is not JSON: %w", err)
		}
		raw = env.Data
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return resp, fmt.Errorf("agentshare: decoding the answer: %w", err)
	}
	return resp, nil
}

// pathEscape escapes one path segment.
func pathEscape(s string) string { return url.PathEscape(s) }

// String returns a pointer to s, for optional fields of requests.
func String(s string) *string { return &s }

// Int returns a pointer to i, for optional fields of requests.
func Int(i int) *int { return &i }

// Bool returns a pointer to b, for optional fields of requests.
func Bool(b bool) *bool { return &b }
