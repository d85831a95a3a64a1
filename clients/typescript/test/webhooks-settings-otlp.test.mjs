// Webhooks, the sharing policy and OpenTelemetry trace export.

import { test } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { client, completedTask, otherClient, unique, waitFor } from "./helpers.mjs";

const c = client();

test("a webhook is registered with its secret, changed, tested, its deliveries listed, and deleted", async () => {
  const hook = await c.webhooks.create({
    url: "https://hooks.example.com/agentshare",
    events: ["share_link.viewed", "share_link.expired"],
    description: "ops channel",
  });
  assert.match(hook.webhook_id, /^wh_/);
  assert.match(hook.secret, /^whsec_/);
  assert.equal(hook.status, "active");
  assert.deepEqual(hook.events, ["share_link.viewed", "share_link.expired"]);

  const read = await c.webhooks.get(hook.webhook_id);
  assert.equal(read.description, "ops channel");
  assert.equal(read.secret ?? null, null, "the secret is shown once");
  assert.ok((await c.webhooks.list()).webhooks.some((w) => w.webhook_id === hook.webhook_id));

  const changed = await c.webhooks.update(hook.webhook_id, { events: ["share_link.viewed"], rotate_secret: true });
  assert.deepEqual(changed.events, ["share_link.viewed"]);
  assert.match(changed.secret, /^whsec_/);
  assert.notEqual(changed.secret, hook.secret);

  const queued = await c.webhooks.test(hook.webhook_id);
  assert.ok(queued.event_id);
  // The endpoint is not reachable from here: the attempt is recorded as failed.
  const deliveries = await waitFor("a delivery attempt", async () => {
    const list = await c.webhooks.deliveries(hook.webhook_id, { limit: 10 });
    return list.deliveries.length > 0 ? list : null;
  }, 30_000);
  assert.equal(deliveries.deliveries[0].event_id, queued.event_id);
  assert.equal(deliveries.deliveries[0].event_type, "webhook.test");

  const disabled = await c.webhooks.update(hook.webhook_id, { status: "disabled" });
  assert.equal(disabled.status, "disabled");
  await assert.rejects(c.webhooks.create({ url: "not a url", events: ["share_link.viewed"] }), { status: 400, field: "url" });
  await c.webhooks.delete(hook.webhook_id);
  await assert.rejects(c.webhooks.get(hook.webhook_id), { status: 404, code: "WEBHOOK_NOT_FOUND" });
  await assert.rejects(otherClient().webhooks.test(hook.webhook_id), { status: 404, code: "WEBHOOK_NOT_FOUND" });
});

test("the sharing policy is read, replaced whole, and enforced on new links and codes", async () => {
  // Bob's policy: it applies to his shares only, so alice's tests are not affected.
  const bob = otherClient();
  assert.deepEqual(await bob.settings.getSharingPolicy(), {
    max_link_lifetime_days: null,
    require_password: false,
    require_audience: false,
    allow_share_code_write: true,
  });
  try {
    const saved = await bob.settings.setSharingPolicy({ max_link_lifetime_days: 14, require_password: true, allow_share_code_write: false });
    assert.deepEqual(saved, { max_link_lifetime_days: 14, require_password: true, require_audience: false, allow_share_code_write: false });
    assert.deepEqual(await bob.settings.getSharingPolicy(), saved);

    const task = await completedTask(bob, "Policy");
    await assert.rejects(bob.shareLinks.create({ task_id: task }), { status: 400, code: "INVALID_REQUEST", field: "password" });
    const far = new Date(Date.now() + 30 * 24 * 3600 * 1000).toISOString();
    await assert.rejects(bob.shareLinks.create({ task_id: task, password: "securepass123", expires_at: far }), { status: 400, field: "expires_at" });
    const link = await bob.shareLinks.create({ task_id: task, password: "securepass123" });
    assert.ok(Date.parse(link.expires_at) <= Date.now() + 14 * 24 * 3600 * 1000 + 60_000);
    await assert.rejects(bob.shareLinks.update(link.share_link_id, { password: null }), { status: 400, field: "password" });

    const running = await bob.tasks.create({ title: "Policy code" });
    await assert.rejects(bob.shareCodes.create(running.task_id, { permissions: { canSendMessage: true } }), (error) => {
      assert.equal(error.status, 400);
      assert.equal(error.errorType, "validation_error");
      assert.match(error.message, /permissions\.canSendMessage/);
      return true;
    });
    assert.ok((await bob.shareCodes.create(running.task_id)).shareCode, "view-only codes are still made");

    // A field left out takes its default: the whole policy is replaced.
    assert.deepEqual(await bob.settings.setSharingPolicy({ require_audience: true }), {
      max_link_lifetime_days: null,
      require_password: false,
      require_audience: true,
      allow_share_code_write: true,
    });
    await assert.rejects(bob.settings.setSharingPolicy({ max_link_lifetime_days: 0 }), { status: 400, field: "max_link_lifetime_days" });
  } finally {
    await bob.settings.setSharingPolicy({});
  }
  assert.equal((await bob.settings.getSharingPolicy()).require_audience, false);
});

function attribute(key, value) {
  return { key, value: typeof value === "number" ? { intValue: String(value) } : { stringValue: value } };
}

test("OTLP traces become a task; protobuf is taken too and refusals are errors", async () => {
  const conversation = `conversation-${unique()}`;
  const trace = Array.from({ length: 32 }, () => "0123456789abcdef"[Math.floor(Math.random() * 16)]).join("");
  const start = BigInt(Date.now() - 60_000) * 1_000_000n;
  const span = (id, parent, name, at, until, attributes) => ({
    traceId: trace,
    spanId: id,
    parentSpanId: parent,
    name,
    kind: 1,
    startTimeUnixNano: String(start + BigInt(at) * 1_000_000_000n),
    endTimeUnixNano: String(start + BigInt(until) * 1_000_000_000n),
    attributes: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
    status: {},
  });
  const answer = JSON.stringify([{ role: "assistant", parts: [{ type: "text", content: "2+2 is **4**." }] }]);
  const body = {
    resourceSpans: [{
      resource: { attributes: [attribute("service.name", "calculator")] },
      scopeSpans: [{
        scope: { name: "agents" },
        spans: [
          span("0000000000000001", "", "invoke_agent Calculator", 0, 10, {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "Calculator",
            "gen_ai.conversation.id": conversation,
          }),
          span("0000000000000002", "0000000000000001", "chat gpt-4o", 1, 9, {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.output.messages": answer,
            "gen_ai.usage.input_tokens": 20,
            "gen_ai.usage.output_tokens": 7,
          }),
        ],
      }],
    }],
  };
  const result = await c.otlp.exportTraces(body, "application/json");
  assert.equal(typeof result, "object");
  assert.equal(Number(result.partialSuccess?.rejectedSpans ?? 0), 0);
  const tasks = await c.tasks.list({ source: "otlp", external_id: conversation });
  assert.equal(tasks.tasks.length, 1);
  assert.equal(tasks.tasks[0].title, "Calculator");
  const outputs = await c.events.list(tasks.tasks[0].task_id, { type: "output" });
  assert.deepEqual(outputs.events.map((e) => e.content), ["2+2 is **4**."]);

  // The same export gzipped adds nothing: a span already stored is stored once.
  const gzipped = await c.otlp.exportTraces(new Uint8Array(gzipSync(JSON.stringify(body))), "application/json", { contentEncoding: "gzip" });
  assert.equal(Number(gzipped.partialSuccess?.rejectedSpans ?? 0), 0);
  assert.equal((await c.events.list(tasks.tasks[0].task_id, { type: "output" })).events.length, 1);

  // An empty protobuf ExportTraceServiceRequest: accepted, answered in protobuf.
  const answerBytes = await c.otlp.exportTraces(new Uint8Array(0), "application/x-protobuf");
  assert.ok(answerBytes instanceof Uint8Array);

  await assert.rejects(c.otlp.exportTraces("hello", "text/plain"), { status: 415 });
  await assert.rejects(c.otlp.exportTraces({ resourceSpans: "x" }), (error) => {
    assert.equal(error.status, 400);
    assert.match(error.message, /not an OTLP trace export/);
    return true;
  });
});
