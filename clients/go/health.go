package agentshare

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
)

// Health checks that the service and its database can serve (GET /healthz).
// When they can't, it returns an *Error with Status 503 and the health the
// server reported.
func (c *Client) Health() (*Health, error) { return c.HealthContext(context.Background()) }

// HealthContext is Health with a context.
func (c *Client) HealthContext(ctx context.Context) (*Health, error) {
	resp, err := c.api.send(ctx, call{method: http.MethodGet, path: "/healthz", noAuth: true, okCodes: []int{200, 503}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var out Health
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, &Error{Status: resp.StatusCode, Message: "the health check did not answer JSON", Body: string(raw)}
	}
	if resp.StatusCode != http.StatusOK {
		return &out, &Error{Status: resp.StatusCode, Code: "UNAVAILABLE", Message: "the service is " + out.Status + " (database " + out.Database + ")"}
	}
	return &out, nil
}

// Readiness is what GET /readyz answers: whether this instance should be sent
// traffic, each check, and why not.
type Readiness struct {
	// Status is "ready" or "not_ready".
	Status   string      `json:"status"`
	Database string      `json:"database"`
	Checks   ReadyChecks `json:"checks"`
	// Reasons says, in words, why the instance is not ready; empty when it is.
	Reasons []string `json:"reasons"`
}

// ReadyChecks are the checks of GET /readyz.
type ReadyChecks struct {
	Database   bool `json:"database"`
	Migrations bool `json:"migrations"`
	ViewWriter bool `json:"view_writer"`
	Workers    bool `json:"workers"`
}

// Ready reports whether this instance should be sent traffic (GET /readyz): its
// database answers, its schema is the one its build expects, and its view writer
// and workers run. A not-ready instance is an answer, not an error: Status is then
// "not_ready" and Reasons says why.
func (c *Client) Ready() (*Readiness, error) { return c.ReadyContext(context.Background()) }

// ReadyContext is Ready with a context.
func (c *Client) ReadyContext(ctx context.Context) (*Readiness, error) {
	resp, err := c.api.send(ctx, call{method: http.MethodGet, path: "/readyz", noAuth: true, okCodes: []int{200, 503}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var out Readiness
	if err := json.Unmarshal(raw, &out); err != nil || out.Status == "" {
		return nil, &Error{Status: resp.StatusCode, Message: "the readiness check did not answer JSON", Body: string(raw)}
	}
	return &out, nil
}
