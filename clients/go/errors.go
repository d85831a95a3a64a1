package agentshare

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error is a request the server refused or failed. It carries the HTTP status and
// what the service said: the owner API's {"success": false, "error": {"code",
// "message", "details"}}, or the share-code API's {"code", "error", "message"}.
//
//	var apiErr *agentshare.Error
//	if errors.As(err, &apiErr) && apiErr.Code == "TASK_NOT_FOUND" { … }
type Error struct {
	// Status is the HTTP status code, e.g. 404.
	Status int
	// Code is the service's error code, e.g. "TASK_NOT_FOUND" or "INVALID_REQUEST".
	Code string
	// Message is the service's explanation, for people.
	Message string
	// Field names the request field at fault (details.field), when there is one.
	Field string
	// Details holds everything the service said about the error (details), e.g.
	// "issue", "permission", "status" or "limit_bytes".
	Details map[string]any
	// Kind is the share-code API's error category ("unauthorized",
	// "validation_error", "not_found", …); empty for other routes.
	Kind string
	// RetryAfter is the wait the server asked for (429 and 503 answers), or zero.
	RetryAfter time.Duration
	// Body is the answer's body when it was not a JSON error (e.g. an HTML page).
	Body string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "agentshare: %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	switch issue := e.Issue(); {
	case issue != "" && e.Field != "":
		b.WriteString(" (field " + e.Field + ": " + issue + ")")
	case issue != "":
		b.WriteString(" (" + issue + ")")
	case e.Field != "":
		b.WriteString(" (field " + e.Field + ")")
	}
	return b.String()
}

// Issue is details.issue: why the field named by Field was refused.
func (e *Error) Issue() string {
	s, _ := e.Details["issue"].(string)
	return s
}

// IsNotFound reports whether the error is a 404 answer.
func (e *Error) IsNotFound() bool { return e.Status == http.StatusNotFound }

func errorFromResponse(resp *http.Response) *Error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	e := &Error{Status: resp.StatusCode}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if secs, err := strconv.Atoi(strings.TrimSpace(ra)); err == nil {
			e.RetryAfter = time.Duration(secs) * time.Second
		}
	}
	var probe map[string]json.RawMessage
	if json.Unmarshal(raw, &probe) == nil {
		if inner, ok := probe["error"]; ok && len(inner) > 0 && inner[0] == '{' {
			var body struct {
				Code    string         `json:"code"`
				Message string         `json:"message"`
				Details map[string]any `json:"details"`
			}
			if json.Unmarshal(inner, &body) == nil {
				e.Code, e.Message, e.Details = body.Code, body.Message, body.Details
				if field, ok := body.Details["field"].(string); ok {
					e.Field = field
				}
				return e
			}
		}
		var flat map[string]any
		if json.Unmarshal(raw, &flat) == nil {
			code, _ := flat["code"].(string)
			if n, ok := flat["code"].(float64); ok && code == "" {
				// OTLP answers a google.rpc.Status, whose code is a number.
				code = strconv.FormatFloat(n, 'f', -1, 64)
			}
			message, _ := flat["message"].(string)
			if code != "" || message != "" {
				e.Code, e.Message = code, message
				e.Kind, _ = flat["error"].(string)
				if details, ok := flat["details"].(map[string]any); ok {
					e.Details = details
					e.Field, _ = details["field"].(string)
				}
				return e
			}
		}
	}
	e.Body = string(raw)
	e.Message = http.StatusText(resp.StatusCode)
	if text := strings.TrimSpace(e.Body); text != "" && !strings.HasPrefix(text, "<") && len(text) < 500 {
		e.Message = text
	}
	return e
}
