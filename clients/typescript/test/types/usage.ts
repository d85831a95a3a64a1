// Compiled (not run) by typecheck.test.mjs: code a TypeScript user writes against
// the published declarations must type-check.
import {
  AgentrixClient,
  AgentshareClient,
  AgentshareError,
  OPERATIONS,
  type CreateShareLinkRequest,
  type ShareLink,
  type SharedView,
  type TaskEvent,
  type ViewerSession,
} from "@agentshare/sdk";

declare const process: { env: Record<string, string | undefined> };

export async function usage(): Promise<void> {
  const client = new AgentrixClient({ apiKey: process.env.AGENTRIX_API_KEY });
  const other: AgentrixClient = new AgentshareClient({ server: "https://share.example.com", fetch: (url, init) => fetch(url, init) });
  const request: CreateShareLinkRequest = {
    task_id: "task_1234567890abcdef",
    expires_at: "2024-02-15T23:59:59Z",
    password: "securepass123",
    permissions: { allow_download: true, allow_comments: false, show_metadata: true },
    max_views: 100,
    notify_on_view: true,
  };
  const shareLink: ShareLink = await client.shareLinks.create(request);
  const fields: string[] = [shareLink.url, shareLink.short_url, shareLink.share_link_id];
  await client.shareLinks.update(shareLink.share_link_id, { password: null, max_views: null, description: null });

  const view: SharedView = await other.linkViewer.open(shareLink.url, { password: "securepass123" });
  const bytes: Uint8Array = await other.linkViewer.download(view.artifacts![0]!.download_url);

  const session: ViewerSession = await client.shareCodes.exchange("code");
  const canSend: boolean = session.permissions.canSendMessage;
  for await (const message of session.streamEvents({ signal: AbortSignal.timeout(1000) })) {
    if (message.event === "end" || message.event === "revoked") break;
    const event: TaskEvent = message.data;
    const seq: number = event.seq;
  }

  const exported = await client.otlp.exportTraces({ resourceSpans: [] });
  const rejected = exported.partialSuccess?.rejectedSpans;
  const raw = await client.otlp.exportTraces(new Uint8Array(0), "application/x-protobuf");

  try {
    await client.health();
  } catch (error) {
    if (error instanceof AgentshareError) {
      const facts: [number, string, string | null, Record<string, unknown>, number | null] = [error.status, error.code, error.field, error.details, error.retryAfter];
    }
  }
  const table: Readonly<Record<string, string>> = OPERATIONS;
  void [fields, bytes, canSend, rejected, raw, table];
}
