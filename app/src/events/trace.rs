//! Traces across the event pipeline: the request that appends an event
//! keeps its W3C trace context (`traceparent`) in the event's row, and a
//! consumer's delivery span continues that trace, so one request can be
//! followed from the HTTP call through the event log to every consumer,
//! in this process or another (the RabbitMQ relay carries the column in
//! the message). Nothing is kept when traces are not exported: without
//! the OpenTelemetry layer (`OTEL_EXPORTER_OTLP_ENDPOINT` unset) no span
//! has a valid context.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

const TRACEPARENT: &str = "traceparent";

/// The current span's context as a `traceparent` value, if it is traced.
pub fn current() -> Option<String> {
    let cx = tracing::Span::current().context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// Makes `span` a child of the first trace in `parents` and links it to
/// the others (a batch of events from several requests); values that are
/// not a `traceparent` are ignored.
pub fn continue_in<'a>(span: &tracing::Span, parents: impl IntoIterator<Item = &'a str>) {
    let propagator = TraceContextPropagator::new();
    let mut parented = false;
    for value in parents.into_iter().take(MAX_LINKS) {
        let carrier = HashMap::from([(TRACEPARENT.to_string(), value.to_string())]);
        let cx = propagator.extract(&carrier);
        let context = cx.span().span_context().clone();
        if !context.is_valid() {
            continue;
        }
        if parented {
            span.add_link(context);
        } else {
            let _ = span.set_parent(cx);
            parented = true;
        }
    }
}

/// Traces one delivery follows at most (a parent and links).
const MAX_LINKS: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_kept_without_a_tracer_and_nonsense_is_ignored() {
        assert_eq!(current(), None);
        let span = tracing::info_span!("x");
        continue_in(&span, ["not a traceparent"]);
        continue_in(&span, []);
    }
}
