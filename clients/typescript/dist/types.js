// Request and response shapes of the agentshare API. Field names are the server's:
// snake_case for the owner API (tasks, events, artifacts, share links, webhooks,
// settings), camelCase for the share-code API (codes and viewer sessions).
export {};
