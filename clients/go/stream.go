package agentshare

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Stream message types besides the event types (message, progress, output, log).
const (
	// StreamEnd closes a stream once the task has finished and every event was sent.
	StreamEnd = "end"
	// StreamRevoked closes a viewer's stream when its share code stops working.
	StreamRevoked = "revoked"
)

// StreamMessage is one message of an event stream.
type StreamMessage struct {
	// ID is the event's sequence number as sent (empty on end and revoked).
	ID string
	// Type is the event's type, or StreamEnd, or StreamRevoked.
	Type string
	// Data is the message's data: the event as JSON, or {}.
	Data json.RawMessage
	// Event is the decoded event; nil on end and revoked.
	Event *Event
}

// Final reports whether the message closes the stream (end or revoked).
func (m *StreamMessage) Final() bool { return m.Type == StreamEnd || m.Type == StreamRevoked }

// EventStream reads a task's live events, one message at a time. It honours the
// context it was opened with: once that is cancelled or past its deadline, Next
// returns the context's error. Close releases the connection.
type EventStream struct {
	ctx    context.Context
	body   io.ReadCloser
	reader *bufio.Reader
	lastID string
	done   bool
}

func openStream(ctx context.Context, api *requester, taskID string, after int64) (*EventStream, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	c := call{
		method: http.MethodGet,
		path:   "/v1/tasks/" + pathEscape(taskID) + "/events/stream",
		accept: "text/event-stream",
	}
	if after >= 0 {
		c.header = http.Header{"Last-Event-ID": {strconv.FormatInt(after, 10)}}
	}
	resp, err := api.send(ctx, c)
	if err != nil {
		return nil, err
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		resp.Body.Close()
		return nil, fmt.Errorf("agentshare: expected an event stream, got %q", ct)
	}
	return &EventStream{ctx: ctx, body: resp.Body, reader: bufio.NewReader(resp.Body)}, nil
}

// Next returns the next message, waiting for it. After the final message (end
// or revoked) it returns io.EOF; a stream the server closed before a final
// message returns io.ErrUnexpectedEOF (resume with StreamAfter and LastEventID).
func (s *EventStream) Next() (*StreamMessage, error) {
	if s.done {
		return nil, io.EOF
	}
	var msg StreamMessage
	var data []string
	hasData := false
	for {
		line, err := s.reader.ReadString('\n')
		if err != nil {
			if ctxErr := s.ctx.Err(); ctxErr != nil {
				return nil, ctxErr
			}
			if errors.Is(err, io.EOF) {
				s.done = true
				return nil, io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("agentshare: reading the event stream: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if !hasData && msg.Type == "" {
				continue
			}
			if msg.Type == "" {
				msg.Type = "message"
			}
			msg.Data = json.RawMessage(strings.Join(data, "\n"))
			if msg.ID != "" {
				s.lastID = msg.ID
			}
			if msg.Final() {
				s.done = true
			} else {
				var ev Event
				if err := json.Unmarshal(msg.Data, &ev); err != nil {
					return nil, fmt.Errorf("agentshare: decoding a stream event: %w", err)
				}
				msg.Event = &ev
			}
			return &msg, nil
		}
		if strings.HasPrefix(line, ":") {
			continue // a comment (keep-alive)
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			msg.ID = value
		case "event":
			msg.Type = value
		case "data":
			data = append(data, value)
			hasData = true
		}
	}
}

// LastEventID is the id of the last event received ("" before any): where to
// resume with StreamAfter.
func (s *EventStream) LastEventID() string { return s.lastID }

// Close ends the stream.
func (s *EventStream) Close() error {
	s.done = true
	return s.body.Close()
}
