//! OTLP trace exports, protobuf and JSON: any body is decoded or refused with a
//! message, and whatever decodes maps onto runs within their bounds — never a
//! panic, never an event over its size, never a title or external id out of shape.

#![no_main]

use agentshare::api::otlp::decode;
use agentshare::app::ingest::{runs_of, MAX_SPANS_PER_REQUEST};
use agentshare::domain::task::{MAX_EVENT_CHARS, MAX_EXTERNAL_ID_CHARS, MAX_LABEL_CHARS, MAX_TITLE_CHARS};
use agentshare::domain::time::Timestamp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else { return };
    let Ok(spans) = decode(body, first & 1 == 1) else { return };
    let total = spans.len();
    let (runs, report) = runs_of(spans, Timestamp(4_000_000_000_000));
    let placed: usize = runs.iter().map(|r| r.spans.len()).sum();
    assert!(placed + report.rejected_spans <= total, "no span counted twice");
    assert!(placed <= MAX_SPANS_PER_REQUEST);
    assert_eq!(report.rejected_spans > 0, report.error.is_some());
    for run in &runs {
        assert_eq!(run.trace_id.len(), 32);
        assert!(run.external_id.chars().count() <= MAX_EXTERNAL_ID_CHARS.max(71));
        assert!(!run.title.0.trim().is_empty() && run.title.0.chars().count() <= MAX_TITLE_CHARS);
        for span in &run.spans {
            assert_eq!(span.span_id.len(), 16);
            for event in &span.events {
                assert!(!event.content.trim().is_empty() && event.content.chars().count() <= MAX_EVENT_CHARS);
                assert!(event.name.as_ref().is_none_or(|n| n.chars().count() <= MAX_LABEL_CHARS));
                assert!(event.at.is_some_and(|at| at.millis() <= 4_000_000_000_000));
            }
        }
    }
});
