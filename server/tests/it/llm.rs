//! The optional vision model, against a local server that speaks the
//! OpenAI chat-completions protocol (as Ollama, vLLM and hosted services
//! do): it checks each request is what the documentation asks for (model,
//! bearer key, the photo as a JPEG data URL, a JSON schema) and answers as
//! the test says. Its answers join the barcode readings without replacing
//! them; a timeout or a nonsense answer is recorded, and the photo's
//! offline analysis stands.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as Http};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::inventory::{product, BEANS_EAN};
use crate::on_both_databases;
use crate::photos::{photo, settled, symbol, upload};

on_both_databases!(
    the_vision_model_adds_to_the_readings_and_its_failures_are_recorded,
    bedrock_is_asked_with_a_signed_converse_request,
);

#[derive(Clone)]
enum Answer {
    /// The assistant message's content.
    Content(String),
    /// Longer than the server waits.
    Slow,
}

#[derive(Clone)]
struct FakeModel {
    answer: Arc<Mutex<Answer>>,
    /// What each request was missing, if anything; and how many came.
    problems: Arc<Mutex<Vec<String>>>,
    requests: Arc<Mutex<usize>>,
}

/// What a chat completion request must carry, per the API documentation.
fn check(headers: &HeaderMap, body: &Value) -> Result<(), String> {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer test-key") {
        return Err("no bearer key".into());
    }
    if body["model"] != "llava:13b" {
        return Err(format!("model {}", body["model"]));
    }
    let content = &body["messages"][0]["content"];
    if content[0]["type"] != "text" || content[1]["type"] != "image_url" {
        return Err(format!("content {content}"));
    }
    let url = content[1]["image_url"]["url"].as_str().unwrap_or_default();
    let data = url
        .strip_prefix("data:image/jpeg;base64,")
        .ok_or("the image is not a JPEG data URL")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| e.to_string())?;
    let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
        .map_err(|e| e.to_string())?;
    if u64::from(img.width()) * u64::from(img.height()) > 2_000_000 {
        return Err("the image is larger than 2 MP".into());
    }
    let format = &body["response_format"];
    if format["type"] != "json_schema"
        || format["json_schema"]["schema"]["properties"]["items"].is_null()
    {
        return Err(format!("response format {format}"));
    }
    Ok(())
}

async fn completions(
    State(model): State<FakeModel>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    *model.requests.lock().unwrap() += 1;
    if let Err(problem) = check(&headers, &body) {
        model.problems.lock().unwrap().push(problem.clone());
        return (
            Http::BAD_REQUEST,
            Json(json!({ "error": { "message": problem } })),
        )
            .into_response();
    }
    let answer = model.answer.lock().unwrap().clone();
    match answer {
        Answer::Slow => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Json(json!({ "choices": [] })).into_response()
        }
        Answer::Content(content) => Json(json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": body["model"],
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": content }, "finish_reason": "stop" }]
        }))
        .into_response(),
    }
}

async fn start_model(answer: Answer) -> (FakeModel, String) {
    let model = FakeModel {
        answer: Arc::new(Mutex::new(answer)),
        problems: Default::default(),
        requests: Default::default(),
    };
    let router = axum::Router::new()
        .route("/v1/chat/completions", axum::routing::post(completions))
        .with_state(model.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (model, url)
}

/// The intake once every photo is read and the model has answered (or
/// failed) for each: it is asked after the offline findings are written.
async fn described(app: &TestApp, c: &reqwest::Client, intake: &str) -> Value {
    for _ in 0..200 {
        let view = settled(app, c, intake).await;
        let done = view["photos"].as_array().unwrap().iter().all(|p| {
            p["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["kind"] == "llm" || f["kind"] == "llm-error")
        });
        if done {
            return view;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the vision model's answers were not recorded within 20 s");
}

fn findings<'a>(photo: &'a Value, kind: &str) -> Vec<&'a Value> {
    photo["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == kind)
        .collect()
}

async fn the_vision_model_adds_to_the_readings_and_its_failures_are_recorded(backend: Backend) {
    let answer = json!({ "items": [
        { "name": "black beans", "count": 3, "best_before": null },
        { "name": "Peanut butter", "count": 2, "best_before": "2027-05-01" },
        { "name": "lentils", "count": 1, "best_before": null }
    ]});
    let (model, url) = start_model(Answer::Content(answer.to_string())).await;
    let app = spawn_with(
        backend,
        &[
            ("LARDER_VISION_LLM_URL", url.as_str()),
            ("LARDER_VISION_LLM_MODEL", "llava:13b"),
            ("LARDER_VISION_LLM_KEY", "test-key"),
            ("LARDER_VISION_LLM_TIMEOUT_SECONDS", "2"),
        ],
    )
    .await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let beans = product(
        &app,
        &admin,
        &p.org,
        "Black beans",
        &[("barcodes", BEANS_EAN)],
    )
    .await;
    let peanut = product(&app, &admin, &p.org, "Peanut butter 340 g", &[]).await;
    let intake = app
        .create(&admin, "create_intake", &[("pantry", &p.main)])
        .await;

    // Two cans' barcodes read; the model says three cans, and more.
    let ean = symbol(rxing::BarcodeFormat::EAN_13, BEANS_EAN, 3);
    let r = upload(
        &app,
        &admin,
        &intake,
        photo(1400, 1000, &[(&ean, 40, 40), (&ean, 40, 560)]),
        "image/jpeg",
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let view = described(&app, &admin, &intake).await;
    assert_eq!(*model.problems.lock().unwrap(), Vec::<String>::new());
    assert_eq!(*model.requests.lock().unwrap(), 1);
    let first = &view["photos"][0];
    assert_eq!(findings(first, "barcode").len(), 2, "{first}");
    let named = findings(first, "llm");
    assert_eq!(named.len(), 3, "{first}");
    assert_eq!(named[1]["value"], "Peanut butter");
    assert_eq!(named[1]["quantity"], 2);
    let s = view["suggestions"].as_array().unwrap();
    let line = |id: &str| {
        s.iter()
            .find(|l| l["product_id"] == json!(id))
            .cloned()
            .unwrap_or_else(|| panic!("no line for {id}: {s:?}"))
    };
    let b = line(&beans);
    assert_eq!(b["quantity"], "2", "the barcodes' count stands: {b}");
    assert!(
        b["evidence"]
            .as_str()
            .unwrap()
            .contains("the vision model saw 3 × black beans in photo 1"),
        "{b}"
    );
    let pb = line(&peanut);
    assert_eq!(pb["quantity"], "2");
    assert_eq!(pb["best_before"], "2027-05-01");
    assert!(pb["confidence"].as_i64().unwrap() <= 60, "{pb}");
    assert_eq!(pb["photos"], json!([first["id"]]));
    let lentils = s
        .iter()
        .find(|l| l["product_id"].is_null() && l["gtin"].is_null())
        .expect("lentils, not in the catalog");
    assert_eq!(lentils["product_name"], "lentils");
    assert!(lentils["evidence"]
        .as_str()
        .unwrap()
        .ends_with("not in the catalog"));

    // The model is too slow: the photo's own reading does not wait for it.
    *model.answer.lock().unwrap() = Answer::Slow;
    let r = upload(
        &app,
        &admin,
        &intake,
        photo(1200, 900, &[(&ean, 100, 100)]),
        "image/jpeg",
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let view = settled(&app, &admin, &intake).await;
    let second = &view["photos"][1];
    assert_eq!(second["status"], "Done");
    assert_eq!(findings(second, "barcode").len(), 1);
    assert!(
        findings(second, "llm-error").is_empty(),
        "read before the model's 2 s were up: {second}"
    );
    let view = described(&app, &admin, &intake).await;
    let second = &view["photos"][1];
    let failed = findings(second, "llm-error");
    assert_eq!(failed.len(), 1, "{second}");
    assert_eq!(failed[0]["value"], "timed out after 2 s");
    let b = view["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["product_id"] == json!(beans))
        .cloned()
        .unwrap();
    assert_eq!(b["quantity"], "3");

    // It answers, but not in the schema: recorded as such.
    *model.answer.lock().unwrap() = Answer::Content("I can see some tins of beans.".into());
    upload(&app, &admin, &intake, photo(1200, 900, &[]), "image/jpeg").await;
    let view = described(&app, &admin, &intake).await;
    let third = &view["photos"][2];
    assert_eq!(third["status"], "Done");
    let failed = findings(third, "llm-error");
    assert!(
        failed[0]["value"]
            .as_str()
            .unwrap()
            .starts_with("answered outside the schema"),
        "{third}"
    );
    assert_eq!(*model.requests.lock().unwrap(), 3);
    assert_eq!(
        app.count("select count(*) from events where type = 'PhotoDescribed'")
            .await,
        3
    );
}

/// What Bedrock's runtime checks of a Converse request: the model in the
/// path, a SigV4 signature over what was sent, with the session token
/// (recomputed with `aws-sigv4`, AWS's signer, from the request as it
/// arrived); and
/// what it answers when the tool is forced: a `toolUse` with our schema's
/// input.
async fn converse(
    State(seen): State<Arc<Mutex<Vec<String>>>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let problem = (|| -> Result<(), String> {
        let path = uri.path();
        if path != "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse" {
            return Err(format!("path {path}"));
        }
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let (date, auth) = (header("x-amz-date"), header("authorization"));
        let expected_prefix = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDTEST/{}/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=",
            &date[..8.min(date.len())]
        );
        if !auth.starts_with(&expected_prefix) {
            return Err(format!("authorization {auth}"));
        }
        let (host, token, kind) = (
            header("host"),
            header("x-amz-security-token"),
            header("content-type"),
        );
        if token != "test-token" {
            return Err(format!("session token {token}"));
        }
        // Signed again here, at the request's own date, over what arrived:
        // the signature must cover the method, path, host, content type,
        // date, session token and body as received.
        let at = time::PrimitiveDateTime::parse(
            &date,
            time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"),
        )
        .map_err(|e| format!("x-amz-date {date}: {e}"))?
        .assume_utc();
        let identity = aws_credential_types::Credentials::new(
            "AKIDTEST",
            "test-secret",
            Some("test-token".into()),
            None,
            "test",
        )
        .into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("bedrock")
            .time(at.into())
            .settings(aws_sigv4::http_request::SigningSettings::default())
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let received = aws_sigv4::http_request::SignableRequest::new(
            "POST",
            format!("http://{host}{path}"),
            [("content-type", kind.as_str())].into_iter(),
            aws_sigv4::http_request::SignableBody::Bytes(&body),
        )
        .map_err(|e| e.to_string())?;
        let (instructions, _) = aws_sigv4::http_request::sign(received, &params)
            .map_err(|e| e.to_string())?
            .into_parts();
        let recomputed = instructions
            .headers()
            .find(|(name, _)| *name == "authorization")
            .map(|(_, value)| value.to_string())
            .unwrap_or_default();
        if recomputed != auth {
            return Err("the signature does not cover what was sent".into());
        }
        let request: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        let image = request["messages"][0]["content"][1]["image"]["source"]["bytes"]
            .as_str()
            .unwrap_or_default();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(image)
            .map_err(|e| e.to_string())?;
        image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
            .map_err(|e| e.to_string())?;
        if request["toolConfig"]["toolChoice"]["tool"]["name"] != "record_items" {
            return Err(format!("tool config {}", request["toolConfig"]));
        }
        Ok(())
    })();
    if let Err(problem) = problem {
        seen.lock().unwrap().push(problem.clone());
        return (Http::FORBIDDEN, Json(json!({ "message": problem }))).into_response();
    }
    seen.lock().unwrap().push("ok".into());
    Json(json!({
        "output": { "message": { "role": "assistant", "content": [
            { "toolUse": { "toolUseId": "tooluse_1", "name": "record_items", "input": { "items": [
                { "name": "peanut butter", "count": 4, "best_before": null }
            ]}}}
        ]}},
        "stopReason": "tool_use",
        "usage": { "inputTokens": 1000, "outputTokens": 40, "totalTokens": 1040 }
    }))
    .into_response()
}

async fn bedrock_is_asked_with_a_signed_converse_request(backend: Backend) {
    let seen: Arc<Mutex<Vec<String>>> = Default::default();
    let router = axum::Router::new()
        .fallback(axum::routing::post(converse))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let app = spawn_with(
        backend,
        &[
            ("LARDER_VISION_LLM_PROVIDER", "bedrock"),
            ("LARDER_VISION_LLM_URL", url.as_str()),
            (
                "LARDER_VISION_LLM_MODEL",
                "anthropic.claude-3-haiku-20240307-v1:0",
            ),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
            ("AWS_SECRET_ACCESS_KEY", "test-secret"),
            ("AWS_SESSION_TOKEN", "test-token"),
        ],
    )
    .await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let peanut = product(&app, &admin, &p.org, "Peanut butter", &[]).await;
    let intake = app
        .create(&admin, "create_intake", &[("pantry", &p.main)])
        .await;
    let r = upload(&app, &admin, &intake, photo(1200, 900, &[]), "image/jpeg").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let view = described(&app, &admin, &intake).await;
    assert_eq!(*seen.lock().unwrap(), vec!["ok".to_string()]);
    let line = &view["suggestions"][0];
    assert_eq!(line["product_id"], json!(peanut), "{view}");
    assert_eq!(line["quantity"], "4");
}
