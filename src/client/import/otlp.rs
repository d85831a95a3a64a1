//! OTLP JSON files as the OpenTelemetry Collector's file exporter writes them: one
//! `ExportTraceServiceRequest` (`{"resourceSpans": [...]}`) a line. Each line is
//! sent as it is to the server's `POST /otlp/v1/traces`.

use serde_json::Value;

/// One line of traces, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Its line number in the file, from 1.
    pub line: usize,
    /// The line, byte for byte.
    pub body: String,
    /// Spans it holds.
    pub spans: u64,
}

/// What a file holds.
#[derive(Debug, Default, PartialEq)]
pub struct TraceFile {
    pub batches: Vec<Batch>,
    /// Lines that are not trace requests, with why.
    pub skipped: Vec<(usize, String)>,
}

/// Reads the lines of a file-exporter file; blank lines are ignored.
pub fn read(text: &str) -> TraceFile {
    let mut file = TraceFile::default();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let value: Value = match serde_json::from_str(line) {
            Ok(value @ Value::Object(_)) => value,
            Ok(_) => {
                file.skipped.push((number, "not a JSON object".into()));
                continue;
            }
            Err(err) => {
                file.skipped.push((number, format!("not JSON ({err})")));
                continue;
            }
        };
        match value.get("resourceSpans") {
            Some(Value::Array(resources)) => file.batches.push(Batch {
                line: number,
                body: line.to_owned(),
                spans: count_spans(resources),
            }),
            Some(_) => file.skipped.push((number, "resourceSpans is not a list".into())),
            None if value.get("resourceLogs").is_some() => {
                file.skipped.push((number, "logs, not traces".into()))
            }
            None if value.get("resourceMetrics").is_some() => {
                file.skipped.push((number, "metrics, not traces".into()))
            }
            None => file.skipped.push((number, "no resourceSpans".into())),
        }
    }
    file
}

/// Spans in `resourceSpans[].scopeSpans[].spans[]` (or the older
/// `instrumentationLibrarySpans`).
fn count_spans(resources: &[Value]) -> u64 {
    resources
        .iter()
        .flat_map(|resource| {
            ["scopeSpans", "instrumentationLibrarySpans"]
                .into_iter()
                .filter_map(move |field| resource.get(field).and_then(Value::as_array))
                .flatten()
        })
        .map(|scope| scope.get("spans").and_then(Value::as_array).map_or(0, |s| s.len() as u64))
        .sum()
}

/// The spans an `ExportTraceServiceResponse` rejected, and why: its
/// `partialSuccess` (`rejectedSpans` is an int64, which OTLP JSON may write as a
/// string).
pub fn rejected(response: &Value) -> (u64, Option<String>) {
    let partial = &response["partialSuccess"];
    let count = match &partial["rejectedSpans"] {
        Value::Number(n) => n.as_u64().unwrap_or(0),
        Value::String(s) => s.parse().unwrap_or(0),
        _ => 0,
    };
    let message = partial["errorMessage"].as_str().filter(|m| !m.is_empty()).map(str::to_owned);
    (count, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_a_file_exporter_file_are_read_with_their_spans() {
        let span = r#"{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"chat","startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000"}"#;
        let first = format!(
            r#"{{"resourceSpans":[{{"resource":{{"attributes":[]}},"scopeSpans":[{{"scope":{{"name":"agent"}},"spans":[{span},{span}]}}]}}]}}"#
        );
        let second = format!(
            r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{span}]}},{{"spans":[]}}]}},{{"scopeSpans":[{{"spans":[{span}]}}]}}]}}"#
        );
        let text = format!(
            "{first}\n\n{second}\r\n{{\"resourceLogs\":[]}}\nnot json\n[1,2]\n{{\"resourceSpans\":{{}}}}\n{{}}\n"
        );
        let file = read(&text);
        assert_eq!(
            file.batches,
            [Batch { line: 1, body: first.clone(), spans: 2 }, Batch { line: 3, body: second, spans: 2 }]
        );
        let skipped: Vec<usize> = file.skipped.iter().map(|(line, _)| *line).collect();
        assert_eq!(skipped, [4, 5, 6, 7, 8]);
        assert_eq!(file.skipped[0].1, "logs, not traces");
        assert!(file.skipped[1].1.starts_with("not JSON"), "{:?}", file.skipped[1]);
        assert_eq!(read("").batches, []);
    }

    #[test]
    fn partial_success_is_read_in_both_encodings() {
        assert_eq!(rejected(&serde_json::json!({})), (0, None));
        assert_eq!(
            rejected(
                &serde_json::json!({"partialSuccess": {"rejectedSpans": "3", "errorMessage": "bad ids"}})
            ),
            (3, Some("bad ids".into()))
        );
        assert_eq!(rejected(&serde_json::json!({"partialSuccess": {"rejectedSpans": 2}})), (2, None));
    }
}
