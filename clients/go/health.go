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
