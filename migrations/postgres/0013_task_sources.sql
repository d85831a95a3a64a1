-- Where a task came from (the REST API, OpenTelemetry traces, an imported
-- transcript, a command wrapped by the CLI) and its id there: one task per
-- source run, found again when the run sends more.
ALTER TABLE tasks ADD COLUMN source TEXT NOT NULL DEFAULT 'api';
ALTER TABLE tasks ADD COLUMN external_id TEXT;
-- A JSON object: the model, token usage, duration and the like.
ALTER TABLE tasks ADD COLUMN metadata TEXT;

CREATE UNIQUE INDEX tasks_external ON tasks (owner_id, source, external_id) WHERE external_id IS NOT NULL;

-- An event's key, unique within its task: appending an event whose key is taken
-- appends nothing (a retried request, a transcript imported again).
ALTER TABLE task_events ADD COLUMN event_key TEXT;

CREATE UNIQUE INDEX task_events_key ON task_events (task_id, event_key) WHERE event_key IS NOT NULL;

-- Spans received over OTLP, so a span sent twice adds nothing, and the task each
-- trace went to.
CREATE TABLE otlp_spans (
    owner_id    TEXT NOT NULL REFERENCES owners (owner_id),
    trace_id    TEXT NOT NULL,
    span_id     TEXT NOT NULL,
    task_id     TEXT NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (owner_id, trace_id, span_id)
);

CREATE INDEX otlp_spans_task ON otlp_spans (task_id);

-- What a task made from traces has gathered so far: how good its title is (a
-- span's name < the root span's name < the agent's name), and the model and
-- tokens of its model calls, summed once per span.
CREATE TABLE otlp_runs (
    task_id       TEXT PRIMARY KEY REFERENCES tasks (task_id) ON DELETE CASCADE,
    title_rank    INTEGER NOT NULL,
    model         TEXT,
    input_tokens  BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    duration_ms   BIGINT
);
