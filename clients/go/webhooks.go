package agentshare

import (
	"context"
	"net/http"
	"net/url"
)

// WebhooksService registers and manages the endpoints that receive the owner's
// events, signed the Standard Webhooks way.
type WebhooksService struct{ api *requester }

func webhookPath(id string) string { return "/v1/webhooks/" + pathEscape(id) }

// Create registers an endpoint; the answer's Secret is shown this once.
func (s *WebhooksService) Create(req *CreateWebhookRequest) (*Webhook, error) {
	return s.CreateContext(context.Background(), req)
}

// CreateContext is Create with a context.
func (s *WebhooksService) CreateContext(ctx context.Context, req *CreateWebhookRequest) (*Webhook, error) {
	var out Webhook
	_, err := s.api.do(ctx, call{method: http.MethodPost, path: "/v1/webhooks", json: req}, true, &out)
	return result(&out, err)
}

// List returns the owner's endpoints.
func (s *WebhooksService) List() ([]Webhook, error) { return s.ListContext(context.Background()) }

// ListContext is List with a context.
func (s *WebhooksService) ListContext(ctx context.Context) ([]Webhook, error) {
	var out struct {
		Webhooks []Webhook `json:"webhooks"`
	}
	_, err := s.api.do(ctx, call{method: http.MethodGet, path: "/v1/webhooks"}, true, &out)
	if err != nil {
		return nil, err
	}
	return out.Webhooks, nil
}

// Get returns one endpoint.
func (s *WebhooksService) Get(webhookID string) (*Webhook, error) {
	return s.GetContext(context.Background(), webhookID)
}

// GetContext is Get with a context.
func (s *WebhooksService) GetContext(ctx context.Context, webhookID string) (*Webhook, error) {
	var out Webhook
	_, err := s.api.do(ctx, call{method: http.MethodGet, path: webhookPath(webhookID)}, true, &out)
	return result(&out, err)
}

// Update changes an endpoint's URL, events, description or status, or rotates
// its secret (the new one is in the answer's Secret).
func (s *WebhooksService) Update(webhookID string, req *UpdateWebhookRequest) (*Webhook, error) {
	return s.UpdateContext(context.Background(), webhookID, req)
}

// UpdateContext is Update with a context.
func (s *WebhooksService) UpdateContext(ctx context.Context, webhookID string, req *UpdateWebhookRequest) (*Webhook, error) {
	if req == nil {
		req = &UpdateWebhookRequest{}
	}
	var out Webhook
	_, err := s.api.do(ctx, call{method: http.MethodPatch, path: webhookPath(webhookID), json: req}, true, &out)
	return result(&out, err)
}

// Delete removes an endpoint.
func (s *WebhooksService) Delete(webhookID string) error {
	return s.DeleteContext(context.Background(), webhookID)
}

// DeleteContext is Delete with a context.
func (s *WebhooksService) DeleteContext(ctx context.Context, webhookID string) error {
	_, err := s.api.do(ctx, call{method: http.MethodDelete, path: webhookPath(webhookID)}, false, nil)
	return err
}

// Deliveries returns the latest delivery attempts to an endpoint, newest first;
// limit 0 takes the server's default.
func (s *WebhooksService) Deliveries(webhookID string, limit int) ([]Delivery, error) {
	return s.DeliveriesContext(context.Background(), webhookID, limit)
}

// DeliveriesContext is Deliveries with a context.
func (s *WebhooksService) DeliveriesContext(ctx context.Context, webhookID string, limit int) ([]Delivery, error) {
	q := url.Values{}
	setInt(q, "limit", int64(limit))
	var out struct {
		Deliveries []Delivery `json:"deliveries"`
	}
	_, err := s.api.do(ctx, call{method: http.MethodGet, path: webhookPath(webhookID) + "/deliveries", query: q}, true, &out)
	if err != nil {
		return nil, err
	}
	return out.Deliveries, nil
}

// Test queues a webhook.test event to the endpoint.
func (s *WebhooksService) Test(webhookID string) (*TestEventQueued, error) {
	return s.TestContext(context.Background(), webhookID)
}

// TestContext is Test with a context.
func (s *WebhooksService) TestContext(ctx context.Context, webhookID string) (*TestEventQueued, error) {
	var out TestEventQueued
	_, err := s.api.do(ctx, call{method: http.MethodPost, path: webhookPath(webhookID) + "/test"}, true, &out)
	return result(&out, err)
}
