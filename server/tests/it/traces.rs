//! OpenTelemetry traces from the real binary, over OTLP/HTTP, into a local
//! collector that speaks the protocol (protobuf `POST /v1/traces`): one
//! request, sent with a caller's `traceparent`, is followed through the
//! event log into every consumer's delivery.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use reqwest::StatusCode;

use crate::helpers::serve_on_loopback;

const BIN: &str = env!("CARGO_BIN_EXE_larder");
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes.iter().find(|a| a.key == key).and_then(|a| {
        match a.value.as_ref()?.value.as_ref()? {
            AnyValue::StringValue(s) => Some(s.clone()),
            AnyValue::IntValue(i) => Some(i.to_string()),
            _ => None,
        }
    })
}

#[tokio::test]
async fn one_request_is_followed_through_the_event_log_into_every_consumer() {
    let (spans_tx, mut spans_rx) = tokio::sync::mpsc::unbounded_channel::<(String, Span)>();
    let collector = serve_on_loopback(axum::Router::new().route(
        "/v1/traces",
        post(move |body: axum::body::Bytes| {
            let spans_tx = spans_tx.clone();
            async move {
                let Ok(request) = ExportTraceServiceRequest::decode(body) else {
                    return StatusCode::BAD_REQUEST;
                };
                for resource in request.resource_spans {
                    let service = resource
                        .resource
                        .iter()
                        .flat_map(|r| r.attributes.iter())
                        .find(|a| a.key == "service.name")
                        .and_then(|a| match a.value.as_ref()?.value.as_ref()? {
                            AnyValue::StringValue(s) => Some(s.clone()),
                            _ => None,
                        })
                        .unwrap_or_default();
                    for scope in resource.scope_spans {
                        for span in scope.spans {
                            let _ = spans_tx.send((service.clone(), span));
                        }
                    }
                }
                StatusCode::OK
            }
        }),
    ))
    .await;

    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .env("LARDER_DATA_DIR", dir.path())
        .env("LARDER_LISTEN", "127.0.0.1:0")
        .env("LARDER_METRICS_LISTEN", "off")
        .env("LARDER_LOG_FORMAT", "json")
        .env("LARDER_ITEM_MODEL", "off")
        .env("LARDER_ADMIN_EMAIL", "ada@college.example")
        .env("LARDER_ADMIN_PASSWORD", "correct horse battery")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector)
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env_remove("DATABASE_URL")
        .env_remove("OTEL_SERVICE_NAME")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let json: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if json["message"] == "Larder is listening" {
                let _ = addr_tx.send(json["addr"].as_str().unwrap_or_default().to_string());
            }
        }
    });
    let addr = addr_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the server starts");
    let base = format!("http://{addr}");

    let c = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let signed_in = c
        .post(format!("{base}/api/sign_in"))
        .form(&[
            ("email", "ada@college.example"),
            ("password", "correct horse battery"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::OK);
    let made = c
        .post(format!("{base}/api/create_organization"))
        .header("traceparent", format!("00-{TRACE}-{CALLER_SPAN}-01"))
        .form(&[("name", "State College")])
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::OK);

    // The request's span, a child of the caller's; each consumer's delivery
    // of the event it appended, a child of the request's span.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut request: Option<Span> = None;
    let mut consumers: Vec<String> = Vec::new();
    let mut services = std::collections::BTreeSet::new();
    let mut deliveries: Vec<Span> = Vec::new();
    while Instant::now() < deadline
        && !(request.is_some()
            && ["daily-flows", "notifier", "live-feed"]
                .iter()
                .all(|c| consumers.iter().any(|s| s == c)))
    {
        let Ok(Some((service, span))) =
            tokio::time::timeout(Duration::from_millis(500), spans_rx.recv()).await
        else {
            continue;
        };
        services.insert(service);
        if hex(&span.trace_id) != TRACE {
            continue;
        }
        match span.name.as_str() {
            "request" => request = Some(span),
            "deliver" => {
                consumers.push(attribute(&span, "consumer").unwrap_or_default());
                deliveries.push(span);
            }
            _ => {}
        }
    }
    let _ = child.kill();
    let _ = child.wait();

    let request = request.expect("the request's span reached the collector, in the caller's trace");
    assert_eq!(hex(&request.parent_span_id), CALLER_SPAN);
    assert_eq!(
        attribute(&request, "path").as_deref(),
        Some("/api/create_organization")
    );
    for consumer in ["daily-flows", "notifier", "live-feed"] {
        assert!(
            consumers.iter().any(|c| c == consumer),
            "{consumer} delivered in the request's trace: {consumers:?}"
        );
    }
    for d in &deliveries {
        assert_eq!(
            hex(&d.parent_span_id),
            hex(&request.span_id),
            "a delivery is a child of the request that appended its event"
        );
        assert_eq!(
            attribute(d, "event_type").as_deref(),
            Some("OrganizationCreated")
        );
    }
    assert_eq!(services.into_iter().collect::<Vec<_>>(), ["larder"]);
}
