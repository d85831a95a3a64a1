package agentshare_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	agentshare "github.com/agentshare/agentshare/clients/go"
)

func TestWebhooks(t *testing.T) {
	c := alice(t)
	hook := must(c.Webhooks.Create(&agentshare.CreateWebhookRequest{
		URL: "http://127.0.0.1:9/hook", Events: []string{agentshare.WebhookShareLinkViewed, agentshare.WebhookShareLinkExpired}, Description: "ops channel",
	}))(t)
	if hook.Secret == nil || !strings.HasPrefix(*hook.Secret, "whsec_") || hook.Status != "active" || len(hook.Events) != 2 {
		t.Fatalf("created: %+v", hook)
	}
	got := must(c.Webhooks.Get(hook.WebhookID))(t)
	if got.Secret != nil || got.Description == nil || *got.Description != "ops channel" {
		t.Fatalf("got: %+v", got)
	}
	found := false
	for _, h := range must(c.Webhooks.List())(t) {
		found = found || h.WebhookID == hook.WebhookID
	}
	if !found {
		t.Fatal("the webhook is not listed")
	}

	updated := must(c.Webhooks.Update(hook.WebhookID, &agentshare.UpdateWebhookRequest{
		Events: []string{agentshare.WebhookShareLinkViewed}, Status: agentshare.String("disabled"), RotateSecret: true, ClearDescription: true,
	}))(t)
	if updated.Status != "disabled" || len(updated.Events) != 1 || updated.Description != nil || updated.Secret == nil || *updated.Secret == *hook.Secret {
		t.Fatalf("updated: %+v", updated)
	}
	must(c.Webhooks.Update(hook.WebhookID, &agentshare.UpdateWebhookRequest{Status: agentshare.String("active")}))(t)

	// A test event is queued and attempted; this server may not reach loopback
	// addresses, so the attempt records why it failed.
	queued := must(c.Webhooks.Test(hook.WebhookID))(t)
	if queued.EventID == "" {
		t.Fatal("no event id")
	}
	var attempt agentshare.Delivery
	waitFor(t, 30*time.Second, "a delivery attempt of the test event", func() (bool, error) {
		deliveries, err := c.Webhooks.Deliveries(hook.WebhookID, 10)
		for _, d := range deliveries {
			if d.EventID == queued.EventID {
				attempt = d
				return true, nil
			}
		}
		return false, err
	})
	if attempt.EventType != "webhook.test" || attempt.Error == nil || attempt.Attempts < 1 {
		t.Fatalf("attempt: %+v", attempt)
	}

	_, err := c.Webhooks.Create(&agentshare.CreateWebhookRequest{URL: "not a url", Events: []string{agentshare.WebhookShareLinkViewed}})
	if apiErr := expectError(t, err, 400, "INVALID_REQUEST"); apiErr.Field != "url" {
		t.Fatalf("field %q", apiErr.Field)
	}
	check(t, c.Webhooks.Delete(hook.WebhookID))
	_, err = c.Webhooks.Get(hook.WebhookID)
	expectError(t, err, 404, "WEBHOOK_NOT_FOUND")
}

func TestOTLPExportMakesATask(t *testing.T) {
	c := alice(t)
	traceID := strings.Repeat("ab", 16)
	now := time.Now().UnixNano()
	attr := func(k, v string) map[string]any {
		return map[string]any{"key": k, "value": map[string]any{"stringValue": v}}
	}
	conversation := name("conv")
	body, err := json.Marshal(map[string]any{"resourceSpans": []any{map[string]any{
		"resource": map[string]any{"attributes": []any{attr("service.name", "support-agent")}},
		"scopeSpans": []any{map[string]any{"spans": []any{map[string]any{
			"traceId": traceID, "spanId": "0102030405060708", "name": "invoke_agent Support",
			"startTimeUnixNano": now - 1e9, "endTimeUnixNano": now, "kind": 1,
			"attributes": []any{attr("gen_ai.operation.name", "invoke_agent"), attr("gen_ai.agent.name", "Support"), attr("gen_ai.conversation.id", conversation)},
		}}}},
	}}})
	check(t, err)
	res := must(c.OTLP.ExportTraces(withTimeout(t, 20*time.Second), body, agentshare.OTLPJSON))(t)
	if res.RejectedSpans != 0 || !strings.HasPrefix(res.ContentType, "application/json") {
		t.Fatalf("export: %+v %s", res, res.Body)
	}
	tasks := must(c.Tasks.List(&agentshare.ListTasksOptions{Source: "otlp", ExternalID: conversation}))(t)
	if len(tasks.Tasks) != 1 || tasks.Tasks[0].Title != "Support" {
		t.Fatalf("otlp tasks: %+v", tasks.Tasks)
	}

	// A span without valid ids is refused and counted.
	bad := bytes.Replace(body, []byte(traceID), []byte(strings.Repeat("0", 32)), 1)
	res = must(c.OTLP.ExportTraces(withTimeout(t, 20*time.Second), bad, agentshare.OTLPJSON))(t)
	if res.RejectedSpans != 1 {
		_, err := c.OTLP.ExportTraces(withTimeout(t, 20*time.Second), bad, agentshare.OTLPJSON)
		t.Fatalf("rejected %d spans (%s), err %v", res.RejectedSpans, res.Body, err)
	}
	_, err = c.OTLP.ExportTraces(withTimeout(t, 20*time.Second), []byte("not json"), agentshare.OTLPJSON)
	if apiErr := asError(t, err); apiErr.Status != 400 || !strings.Contains(apiErr.Message, "not an OTLP trace export") {
		t.Fatalf("a body that is not an export: %+v", apiErr)
	}
	_, err = agentshare.NewClient("ask_wrong").OTLP.ExportTraces(withTimeout(t, 20*time.Second), body, agentshare.OTLPJSON)
	if asError(t, err).Status != 401 {
		t.Fatalf("with a wrong key: %v", err)
	}
}
