-- Live streams of a task ask which of its viewer sessions are live, once per look
-- for every stream of the task on an instance.
CREATE INDEX viewer_sessions_task ON viewer_sessions (task_id);
