"""An agent run exported by the OpenTelemetry Python SDK, configured the way a
user configures any instrumented agent: only through environment variables
(OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS, and here
OTEL_EXPORTER_OTLP_COMPRESSION=gzip). The spans follow the OpenTelemetry GenAI
semantic conventions: an agent span, model calls with their messages and usage,
and a tool execution; a second trace uses the older span-event conventions.

Usage: python agent_run.py CONVERSATION_ID
Exits 0 when every export was acknowledged, 1 otherwise.
"""

import json
import sys

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.trace import Status, StatusCode


class CheckedExporter(OTLPSpanExporter):
    """The stock exporter, remembering whether the server took every batch."""

    failures = 0
    batches = 0

    def export(self, spans):
        result = super().export(spans)
        CheckedExporter.batches += 1
        if result is not SpanExportResult.SUCCESS:
            CheckedExporter.failures += 1
        return result


def text(role, content):
    return {"role": role, "parts": [{"type": "text", "content": content}]}


def main(conversation):
    provider = TracerProvider(resource=Resource.create({"service.name": "sdk-agent"}))
    # Small batches, so the run arrives over several requests.
    provider.add_span_processor(BatchSpanProcessor(CheckedExporter(), max_export_batch_size=2))
    tracer = provider.get_tracer("agentshare-test")

    question = [text("user", "Which files mention the login bug?")]
    with tracer.start_as_current_span(
        "invoke_agent Librarian",
        attributes={
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "Librarian",
            "gen_ai.conversation.id": conversation,
        },
    ):
        with tracer.start_as_current_span(
            "chat gpt-4o-mini",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.input.messages": json.dumps(question),
                "gen_ai.usage.input_tokens": 31,
                "gen_ai.usage.output_tokens": 12,
            },
        ):
            pass
        with tracer.start_as_current_span(
            "execute_tool grep",
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "grep",
                "gen_ai.tool.call.arguments": json.dumps({"pattern": "login"}),
                "gen_ai.tool.call.result": "src/auth.rs\nsrc/session.rs",
            },
        ):
            pass
        with tracer.start_as_current_span(
            "chat gpt-4o-mini",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                "gen_ai.input.messages": json.dumps(question),
                "gen_ai.output.messages": json.dumps([text("assistant", "`src/auth.rs` and `src/session.rs`.")]),
                "gen_ai.usage.input_tokens": 60,
                "gen_ai.usage.output_tokens": 15,
            },
        ):
            pass

    # Another run, in the older conventions: messages as span events; it fails.
    with tracer.start_as_current_span("legacy run", attributes={"gen_ai.conversation.id": conversation + "-legacy"}) as root:
        with tracer.start_as_current_span("chat", attributes={"gen_ai.system": "openai"}) as chat:
            chat.add_event("gen_ai.user.message", {"content": "Say hi"})
            chat.add_event("gen_ai.choice", {"message": json.dumps({"role": "assistant", "content": "Hi!"})})
        root.set_status(Status(StatusCode.ERROR, "tool crashed"))

    provider.shutdown()
    print(f"{CheckedExporter.batches} exports, {CheckedExporter.failures} failed", file=sys.stderr)
    return 0 if CheckedExporter.batches > 0 and CheckedExporter.failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
