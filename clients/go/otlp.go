package agentshare

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// OTLPService sends OpenTelemetry traces: each agent run becomes a task.
type OTLPService struct{ api *requester }

// Content types ExportTraces takes.
const (
	OTLPJSON     = "application/json"
	OTLPProtobuf = "application/x-protobuf"
)

// ExportResult is the server's ExportTraceServiceResponse.
type ExportResult struct {
	// ContentType and Body are the answer as sent (JSON or protobuf, as the request).
	ContentType string
	Body        []byte
	// RejectedSpans and ErrorMessage are partialSuccess, read from a JSON answer.
	RejectedSpans int64
	ErrorMessage  string
}

// ExportTraces sends one OTLP ExportTraceServiceRequest (POST /otlp/v1/traces),
// as OTLPJSON or OTLPProtobuf (empty: JSON). Spans the server refused are
// counted in the result's RejectedSpans; a body that is not an export is an
// *Error (400), as is a key the server refuses (401).
func (s *OTLPService) ExportTraces(ctx context.Context, body []byte, contentType string) (*ExportResult, error) {
	if contentType == "" {
		contentType = OTLPJSON
	}
	resp, err := s.api.send(ctx, call{
		method: http.MethodPost,
		path:   "/otlp/v1/traces",
		body:   bytes.NewReader(body),
		ctype:  contentType,
		accept: contentType,
	})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := &ExportResult{ContentType: resp.Header.Get("Content-Type"), Body: raw}
	if strings.HasPrefix(out.ContentType, "application/json") && len(raw) > 0 {
		var parsed struct {
			PartialSuccess struct {
				RejectedSpans json.Number `json:"rejectedSpans"`
				ErrorMessage  string      `json:"errorMessage"`
			} `json:"partialSuccess"`
		}
		if json.Unmarshal(raw, &parsed) == nil {
			out.RejectedSpans, _ = parsed.PartialSuccess.RejectedSpans.Int64()
			out.ErrorMessage = parsed.PartialSuccess.ErrorMessage
		}
	}
	return out, nil
}
