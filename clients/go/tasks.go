package agentshare

import (
	"context"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
)

// TasksService creates, reads, lists and changes tasks, and sends them messages.
type TasksService struct{ api *requester }

// Create registers a task in pending status.
func (s *TasksService) Create(req *CreateTaskRequest) (*Task, error) {
	return s.CreateContext(context.Background(), req)
}

// CreateContext is Create with a context.
func (s *TasksService) CreateContext(ctx context.Context, req *CreateTaskRequest) (*Task, error) {
	var out Task
	_, err := s.api.do(ctx, call{method: http.MethodPost, path: "/v1/tasks", json: req}, true, &out)
	return result(&out, err)
}

// Get returns a task.
func (s *TasksService) Get(taskID string) (*Task, error) {
	return s.GetContext(context.Background(), taskID)
}

// GetContext is Get with a context.
func (s *TasksService) GetContext(ctx context.Context, taskID string) (*Task, error) {
	var out Task
	_, err := s.api.do(ctx, call{method: http.MethodGet, path: "/v1/tasks/" + pathEscape(taskID)}, true, &out)
	return result(&out, err)
}

// List returns a page of the owner's tasks, newest first.
func (s *TasksService) List(opts *ListTasksOptions) (*TaskList, error) {
	return s.ListContext(context.Background(), opts)
}

// ListContext is List with a context.
func (s *TasksService) ListContext(ctx context.Context, opts *ListTasksOptions) (*TaskList, error) {
	q := url.Values{}
	if opts != nil {
		setString(q, "status", opts.Status)
		setString(q, "source", opts.Source)
		setString(q, "external_id", opts.ExternalID)
		setInt(q, "limit", int64(opts.Limit))
		setString(q, "cursor", opts.Cursor)
	}
	var out TaskList
	_, err := s.api.do(ctx, call{method: http.MethodGet, path: "/v1/tasks", query: q}, true, &out)
	return result(&out, err)
}

// Update changes a task: its status (pending → running → completed, failed or
// cancelled), title, machine, metadata, repository and base branch.
func (s *TasksService) Update(taskID string, req *UpdateTaskRequest) (*Task, error) {
	return s.UpdateContext(context.Background(), taskID, req)
}

// UpdateContext is Update with a context.
func (s *TasksService) UpdateContext(ctx context.Context, taskID string, req *UpdateTaskRequest) (*Task, error) {
	if req == nil {
		req = &UpdateTaskRequest{}
	}
	var out Task
	_, err := s.api.do(ctx, call{method: http.MethodPatch, path: "/v1/tasks/" + pathEscape(taskID), json: req}, true, &out)
	return result(&out, err)
}

// SendMessage appends a message to the task as a message event.
func (s *TasksService) SendMessage(taskID, content string) (*Event, error) {
	return s.SendMessageContext(context.Background(), taskID, content)
}

// SendMessageContext is SendMessage with a context.
func (s *TasksService) SendMessageContext(ctx context.Context, taskID, content string) (*Event, error) {
	var out Event
	body := map[string]string{"content": content}
	_, err := s.api.do(ctx, call{method: http.MethodPost, path: "/v1/tasks/" + pathEscape(taskID) + "/messages", json: body}, true, &out)
	return result(&out, err)
}

// EventsService appends, lists and follows the events of tasks.
type EventsService struct{ api *requester }

// Append adds one event to a task. With a Key used before, it appends nothing
// and returns the stored event (Created reports which).
func (s *EventsService) Append(taskID string, req *AppendEventRequest) (*AppendedEvent, error) {
	return s.AppendContext(context.Background(), taskID, req)
}

// AppendedEvent is an appended event; Created is false when its key was used
// before and nothing new was stored.
type AppendedEvent struct {
	Event
	Created bool `json:"-"`
}

// AppendContext is Append with a context.
func (s *EventsService) AppendContext(ctx context.Context, taskID string, req *AppendEventRequest) (*AppendedEvent, error) {
	var out AppendedEvent
	resp, err := s.api.do(ctx, call{method: http.MethodPost, path: "/v1/tasks/" + pathEscape(taskID) + "/events", json: req}, true, &out.Event)
	if err != nil {
		return nil, err
	}
	out.Created = resp.StatusCode == http.StatusCreated
	return &out, nil
}

// List returns a page of a task's events in order.
func (s *EventsService) List(taskID string, opts *ListEventsOptions) (*EventList, error) {
	return s.ListContext(context.Background(), taskID, opts)
}

// ListContext is List with a context.
func (s *EventsService) ListContext(ctx context.Context, taskID string, opts *ListEventsOptions) (*EventList, error) {
	q := url.Values{}
	if opts != nil {
		if opts.After > 0 {
			q.Set("after", strconv.FormatInt(opts.After, 10))
		}
		setString(q, "type", opts.Type)
		setInt(q, "limit", int64(opts.Limit))
	}
	var out EventList
	_, err := s.api.do(ctx, call{method: http.MethodGet, path: "/v1/tasks/" + pathEscape(taskID) + "/events", query: q}, true, &out)
	return result(&out, err)
}

// Stream follows a task's events live (Server-Sent Events) from the first one.
// The stream ends with an "end" message once the task has finished; it stops
// when ctx is cancelled or its deadline passes. Close it when done.
func (s *EventsService) Stream(ctx context.Context, taskID string) (*EventStream, error) {
	return openStream(ctx, s.api, taskID, -1)
}

// StreamAfter is Stream starting after the event with sequence number after
// (what a reconnecting reader sends as Last-Event-ID).
func (s *EventsService) StreamAfter(ctx context.Context, taskID string, after int64) (*EventStream, error) {
	return openStream(ctx, s.api, taskID, after)
}

// ArtifactsService uploads, lists, downloads and deletes the files of tasks.
type ArtifactsService struct{ api *requester }

// Upload stores body as the task's artifact name. contentType may be empty
// (application/octet-stream).
func (s *ArtifactsService) Upload(taskID, name, contentType string, body io.Reader) (*Artifact, error) {
	return s.UploadContext(context.Background(), taskID, name, contentType, body)
}

// UploadContext is Upload with a context.
func (s *ArtifactsService) UploadContext(ctx context.Context, taskID, name, contentType string, body io.Reader) (*Artifact, error) {
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	if body == nil {
		body = http.NoBody
	}
	var out Artifact
	_, err := s.api.do(ctx, call{
		method: http.MethodPost,
		path:   "/v1/tasks/" + pathEscape(taskID) + "/artifacts",
		query:  url.Values{"name": {name}},
		body:   body,
		ctype:  contentType,
	}, true, &out)
	return result(&out, err)
}

// List returns a task's artifacts.
func (s *ArtifactsService) List(taskID string) ([]Artifact, error) {
	return s.ListContext(context.Background(), taskID)
}

// ListContext is List with a context.
func (s *ArtifactsService) ListContext(ctx context.Context, taskID string) ([]Artifact, error) {
	var out struct {
		Artifacts []Artifact `json:"artifacts"`
	}
	_, err := s.api.do(ctx, call{method: http.MethodGet, path: "/v1/tasks/" + pathEscape(taskID) + "/artifacts"}, true, &out)
	if err != nil {
		return nil, err
	}
	return out.Artifacts, nil
}

// Download returns an artifact's content; the caller must Close it.
func (s *ArtifactsService) Download(taskID, artifactID string) (*Download, error) {
	return s.DownloadContext(context.Background(), taskID, artifactID)
}

// DownloadContext is Download with a context; ctx also bounds reading the body.
func (s *ArtifactsService) DownloadContext(ctx context.Context, taskID, artifactID string) (*Download, error) {
	return download(ctx, s.api, call{method: http.MethodGet, path: "/v1/tasks/" + pathEscape(taskID) + "/artifacts/" + pathEscape(artifactID), accept: "*/*"})
}

// Delete removes an artifact.
func (s *ArtifactsService) Delete(taskID, artifactID string) error {
	return s.DeleteContext(context.Background(), taskID, artifactID)
}

// DeleteContext is Delete with a context.
func (s *ArtifactsService) DeleteContext(ctx context.Context, taskID, artifactID string) error {
	_, err := s.api.do(ctx, call{method: http.MethodDelete, path: "/v1/tasks/" + pathEscape(taskID) + "/artifacts/" + pathEscape(artifactID)}, false, nil)
	return err
}

// Download is a file being downloaded: read it, then Close it.
type Download struct {
	io.ReadCloser
	// ContentType is the file's media type.
	ContentType string
	// ContentLength is its size when the server said it, else -1 (text files
	// a link redacts are sent without one).
	ContentLength int64
	// Filename is the name the server gave it (Content-Disposition), if any.
	Filename string
}

func download(ctx context.Context, api *requester, c call) (*Download, error) {
	resp, err := api.send(ctx, c)
	if err != nil {
		return nil, err
	}
	d := &Download{ReadCloser: resp.Body, ContentType: resp.Header.Get("Content-Type"), ContentLength: resp.ContentLength}
	if cd := resp.Header.Get("Content-Disposition"); cd != "" {
		if _, params, err := mime.ParseMediaType(cd); err == nil {
			d.Filename = params["filename"]
		}
	}
	return d, nil
}

func setString(q url.Values, name, value string) {
	if value != "" {
		q.Set(name, value)
	}
}

func setInt(q url.Values, name string, value int64) {
	if value != 0 {
		q.Set(name, strconv.FormatInt(value, 10))
	}
}

func result[T any](out *T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return out, nil
}
