//! Logging: human-readable lines or JSON, filtered by `LARDER_LOG`. Every
//! line logged while serving a request carries its request id, from the
//! request span.
//!
//! Traces: with `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set, the same spans go to an
//! OpenTelemetry collector over OTLP/HTTP (protobuf), batched on a thread
//! of their own: a request's span (continuing the caller's `traceparent`,
//! if it sent one), and every event consumer's delivery of the events that
//! request appended (see `app::events::trace`). The exporter reads the
//! standard `OTEL_*` variables (headers, timeout, batch delay); the service
//! is `larder` unless `OTEL_SERVICE_NAME` says otherwise. Off by default.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

use crate::config::{Config, LogFormat};

/// Keeps the trace exporter; [`Telemetry::shutdown`] sends what is left.
#[must_use = "dropping it is fine, but shutdown() sends the last spans"]
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported.
    pub fn exporting(&self) -> bool {
        self.traces.is_some()
    }

    /// Exports the spans still batched and stops the exporter.
    pub fn shutdown(self) {
        if let Some(provider) = self.traces {
            if let Err(error) = provider.shutdown() {
                eprintln!("larder: the last traces were not exported: {error}");
            }
        }
    }
}

/// Whether the environment asks for OTLP traces.
pub fn otlp_configured(env: impl Fn(&str) -> Option<String>) -> bool {
    let set = |k: &str| env(k).is_some_and(|v| !v.trim().is_empty());
    let disabled = env("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    !disabled && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

fn tracer_provider() -> Result<SdkTracerProvider, String> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|e| e.to_string())?;
    let mut resource = opentelemetry_sdk::Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("larder");
    }
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build())
}

pub fn init(config: &Config) -> Telemetry {
    let filter = EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let traces = if otlp_configured(|k| std::env::var(k).ok()) {
        match tracer_provider() {
            Ok(provider) => Some(provider),
            Err(error) => {
                eprintln!("larder: traces are not exported: {error}");
                None
            }
        }
    } else {
        None
    };
    let otel = traces
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("larder")));
    let registry = tracing_subscriber::registry().with(filter).with(otel);
    let _ = match config.log_format {
        LogFormat::Pretty => registry.with(fmt::layer().with_target(false)).try_init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .flatten_event(true),
            )
            .try_init(),
    };
    Telemetry { traces }
}

/// Continues the trace an incoming request names in its `traceparent`
/// header (a caller that traces, or a proxy that starts traces).
pub fn continue_from_headers(span: &tracing::Span, headers: &http::HeaderMap) {
    let parent = headers.get("traceparent").and_then(|v| v.to_str().ok());
    app::events::trace::continue_in(span, parent);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_are_on_only_with_an_endpoint_and_not_disabled() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(!otlp_configured(env(&[])));
        assert!(!otlp_configured(env(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            " "
        )])));
        assert!(otlp_configured(env(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://c:4318"
        )])));
        assert!(otlp_configured(env(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://c:4318/v1/traces"
        )])));
        assert!(!otlp_configured(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_SDK_DISABLED", "true"),
        ])));
    }
}
