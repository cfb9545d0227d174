//! The optional vision model: when one is configured, each photo also goes
//! to an OpenAI-compatible `/v1/chat/completions` endpoint (a local Ollama
//! or vLLM, or a hosted service) or to Amazon Bedrock's Converse API
//! (signed with SigV4, see [`super::aws`]), with a JSON schema for what it should answer: the items it sees, how many of each, and any printed date. Its
//! answer is recorded as findings beside the barcodes, dates and matches,
//! and merged into the suggestions without replacing them; a failure or a
//! timeout is recorded on the photo and the offline analysis goes on.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;

/// Where the model is and how long to wait for it.
#[derive(Clone, Debug)]
pub struct VisionLlm {
    /// The API base: up to and including `/v1` for OpenAI-compatible APIs;
    /// for Bedrock, its runtime endpoint (`https://bedrock-runtime.<region>.amazonaws.com`).
    pub url: String,
    pub model: String,
    pub provider: Provider,
    pub timeout: Duration,
}

/// Which API the model speaks.
#[derive(Clone)]
pub enum Provider {
    /// `/chat/completions`; the key, when set, goes as a bearer token.
    OpenAi { api_key: Option<String> },
    /// Bedrock's `/model/{id}/converse`, its answer forced through a tool
    /// whose input schema is ours.
    Bedrock {
        region: String,
        credentials: Arc<super::aws::AwsCredentials>,
    },
}

/// What a Bedrock model id keeps unencoded in the request path: RFC 3986's
/// unreserved characters (the `:` of `...-v1:0` becomes `%3A`, as the AWS
/// SDKs send it).
const UNRESERVED_ONLY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

impl std::fmt::Debug for Provider {
    // Keys stay out of logs and configuration dumps.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Provider::OpenAi { api_key } => f
                .debug_struct("OpenAi")
                .field("api_key", &api_key.as_ref().map(|_| "[redacted]"))
                .finish(),
            Provider::Bedrock {
                region,
                credentials,
            } => f
                .debug_struct("Bedrock")
                .field("region", region)
                .field("credentials", credentials)
                .finish(),
        }
    }
}

/// One kind of item the model saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub name: String,
    pub count: i64,
    /// YYYY-MM-DD.
    pub best_before: Option<String>,
}

/// Items one answer may list; more is a model going astray.
const MOST_ITEMS: usize = 30;
const MOST_COUNT: i64 = 500;

const PROMPT: &str = "This photo shows donated food or household items for a food pantry. \
List each distinct product you can see: a short generic name as a shopper would say it \
(\"black beans\", \"peanut butter\"), how many units of it are visible, and the best-before \
or expiry date printed on it as YYYY-MM-DD if you can read one (otherwise null). \
List only what you can see; an empty list is a fine answer.";

fn schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": { "type": "string" },
                        "count": { "type": "integer", "minimum": 1 },
                        "best_before": { "type": ["string", "null"] }
                    },
                    "required": ["name", "count", "best_before"],
                    "additionalProperties": false
                }
            }
        },
        "required": ["items"],
        "additionalProperties": false
    })
}

#[derive(Deserialize)]
struct Completion {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
}

#[derive(Deserialize)]
struct Message {
    content: Option<String>,
}

#[derive(Deserialize)]
struct Answer {
    items: Vec<AnswerItem>,
}

#[derive(Deserialize)]
struct AnswerItem {
    name: String,
    count: i64,
    best_before: Option<String>,
}

/// One question: what to ask, an optional photo, and the JSON schema the
/// answer must follow (named, as the tool Bedrock is made to call).
struct Question<'a> {
    prompt: &'a str,
    jpeg: Option<&'a [u8]>,
    schema: serde_json::Value,
    name: &'static str,
    purpose: &'static str,
}

impl VisionLlm {
    /// Asks the model about one JPEG. The error is a sentence for the
    /// photo's record ("timed out after 60 s").
    pub async fn look(&self, client: &reqwest::Client, jpeg: &[u8]) -> Result<Vec<Seen>, String> {
        let answer = self
            .ask(
                client,
                &Question {
                    prompt: PROMPT,
                    jpeg: Some(jpeg),
                    schema: schema(),
                    name: TOOL,
                    purpose: "Record the items seen in the photo.",
                },
            )
            .await?;
        items(answer)
    }

    /// Asks the model for a few sentences of advice on a stock issue
    /// (text only). The same model and configuration as the photos.
    pub async fn advise(&self, client: &reqwest::Client, prompt: &str) -> Result<String, String> {
        let answer = self
            .ask(
                client,
                &Question {
                    prompt,
                    jpeg: None,
                    schema: json!({
                        "type": "object",
                        "properties": { "advice": { "type": "string" } },
                        "required": ["advice"],
                        "additionalProperties": false
                    }),
                    name: "record_advice",
                    purpose: "Record the advice.",
                },
            )
            .await?;
        let advice = answer["advice"]
            .as_str()
            .ok_or("answered outside the schema (no advice)")?;
        let advice: String = advice.split_whitespace().collect::<Vec<_>>().join(" ");
        if advice.is_empty() {
            return Err("answered with no advice".into());
        }
        Ok(advice.chars().take(MOST_ADVICE).collect())
    }

    /// Sends one question and returns the answer's JSON: the chat
    /// completion's content, or the input of Bedrock's call to the tool.
    async fn ask(
        &self,
        client: &reqwest::Client,
        q: &Question<'_>,
    ) -> Result<serde_json::Value, String> {
        let image = q
            .jpeg
            .map(|j| base64::engine::general_purpose::STANDARD.encode(j));
        let base = self.url.trim_end_matches('/');
        let request = match &self.provider {
            Provider::OpenAi { api_key } => {
                let mut content = vec![json!({ "type": "text", "text": q.prompt })];
                if let Some(image) = &image {
                    content.push(json!({ "type": "image_url", "image_url": { "url": format!("data:image/jpeg;base64,{image}") } }));
                }
                let body = json!({
                    "model": self.model,
                    "temperature": 0,
                    "messages": [{ "role": "user", "content": content }],
                    "response_format": {
                        "type": "json_schema",
                        "json_schema": { "name": q.name, "strict": true, "schema": q.schema }
                    }
                });
                let request = client.post(format!("{base}/chat/completions")).json(&body);
                match api_key {
                    Some(key) => request.bearer_auth(key),
                    None => request,
                }
            }
            Provider::Bedrock {
                region,
                credentials,
            } => {
                let mut content = vec![json!({ "text": q.prompt })];
                if let Some(image) = &image {
                    content.push(
                        json!({ "image": { "format": "jpeg", "source": { "bytes": image } } }),
                    );
                }
                let body = serde_json::to_vec(&json!({
                    "messages": [{ "role": "user", "content": content }],
                    "inferenceConfig": { "temperature": 0 },
                    "toolConfig": {
                        "tools": [{ "toolSpec": {
                            "name": q.name,
                            "description": q.purpose,
                            "inputSchema": { "json": q.schema }
                        }}],
                        "toolChoice": { "tool": { "name": q.name } }
                    }
                }))
                .map_err(|e| format!("could not be asked ({e})"))?;
                let url = format!(
                    "{base}/model/{}/converse",
                    percent_encoding::utf8_percent_encode(&self.model, UNRESERVED_ONLY)
                );
                let parsed =
                    reqwest::Url::parse(&url).map_err(|e| format!("has a bad address ({e})"))?;
                if parsed.host_str().is_none() {
                    return Err("has a bad address (no host)".into());
                }
                const CONTENT_TYPE: (&str, &str) = ("content-type", "application/json");
                // Signed as reqwest will send it: the parsed URL's text.
                let signature = credentials
                    .sign_post(region, "bedrock", parsed.as_str(), &[CONTENT_TYPE], &body)
                    .await?;
                let mut request = client
                    .post(parsed)
                    .header(CONTENT_TYPE.0, CONTENT_TYPE.1)
                    .body(body);
                for (name, value) in signature {
                    request = request.header(name, value);
                }
                request
            }
        };
        let response = request.timeout(self.timeout).send().await.map_err(|e| {
            if e.is_timeout() {
                format!("timed out after {} s", self.timeout.as_secs())
            } else if e.is_connect() {
                "could not be reached".to_string()
            } else {
                format!("failed ({e})")
            }
        })?;
        let status = response.status();
        let text = response.text().await.map_err(|e| {
            if e.is_timeout() {
                format!("timed out after {} s", self.timeout.as_secs())
            } else {
                format!("failed while answering ({e})")
            }
        })?;
        if !status.is_success() {
            let reason: String = text.chars().take(200).collect();
            return Err(format!("answered {status}: {reason}"));
        }
        match self.provider {
            Provider::OpenAi { .. } => completion_answer(&text),
            Provider::Bedrock { .. } => converse_answer(&text),
        }
    }
}

/// The longest advice kept.
const MOST_ADVICE: usize = 600;

/// The tool Bedrock is made to call with its answer.
const TOOL: &str = "record_items";

/// The answer in a Bedrock Converse response: the input of its call to
/// the tool (or, from a model that answered in text instead, that text).
fn converse_answer(body: &str) -> Result<serde_json::Value, String> {
    let answer: serde_json::Value = serde_json::from_str(body)
        .map_err(|e| format!("answered something that is not a Converse response ({e})"))?;
    let content = answer["output"]["message"]["content"]
        .as_array()
        .ok_or("answered without any content")?;
    if let Some(input) = content
        .iter()
        .find_map(|c| c.get("toolUse").map(|t| &t["input"]))
    {
        return Ok(input.clone());
    }
    let text = content
        .iter()
        .find_map(|c| c["text"].as_str())
        .ok_or("answered without any content")?;
    unfenced(text)
}

/// The answer in a chat completion's content.
fn completion_answer(body: &str) -> Result<serde_json::Value, String> {
    let completion: Completion = serde_json::from_str(body)
        .map_err(|e| format!("answered something that is not a chat completion ({e})"))?;
    let content = completion
        .choices
        .into_iter()
        .next()
        .and_then(|c| c.message.content)
        .ok_or("answered without any content")?;
    unfenced(&content)
}

/// The items in a Bedrock Converse answer, checked.
pub fn parse_converse(body: &str) -> Result<Vec<Seen>, String> {
    items(converse_answer(body)?)
}

/// The items in a chat completion, checked: names trimmed and bounded,
/// counts plausible, dates real.
pub fn parse(body: &str) -> Result<Vec<Seen>, String> {
    items(completion_answer(body)?)
}

fn items(answer: serde_json::Value) -> Result<Vec<Seen>, String> {
    checked(
        serde_json::from_value(answer).map_err(|e| format!("answered outside the schema ({e})"))?,
    )
}

/// An answer given as text: JSON, perhaps in a Markdown fence despite the
/// schema (some servers do that).
fn unfenced(content: &str) -> Result<serde_json::Value, String> {
    let content = content
        .trim()
        .trim_start_matches("```json")
        .trim_start_matches("```")
        .trim_end_matches("```")
        .trim();
    serde_json::from_str(content).map_err(|e| format!("answered outside the schema ({e})"))
}

fn checked(answer: Answer) -> Result<Vec<Seen>, String> {
    if answer.items.len() > MOST_ITEMS {
        return Err(format!(
            "listed {} items; at most {MOST_ITEMS} are taken",
            answer.items.len()
        ));
    }
    let mut out: Vec<Seen> = Vec::new();
    for item in answer.items {
        let name: String = item.name.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() || name.chars().count() > 80 || !(1..=MOST_COUNT).contains(&item.count) {
            continue;
        }
        let best_before = item.best_before.filter(|d| real_date(d));
        match out.iter_mut().find(|s| s.name.eq_ignore_ascii_case(&name)) {
            Some(s) => {
                s.count = (s.count + item.count).min(MOST_COUNT);
                s.best_before = s.best_before.take().or(best_before);
            }
            None => out.push(Seen {
                name,
                count: item.count,
                best_before,
            }),
        }
    }
    Ok(out)
}

/// YYYY-MM-DD naming a real day.
fn real_date(s: &str) -> bool {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &format).is_ok()
}

/// How well a product name matches what the model called an item: the
/// share of the item's words found in the name (so "beans" matches "Black
/// beans 400 g" fully, "black beans" matches "Beans" by half).
pub fn name_match(product: &str, item: &str) -> f32 {
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.len() > 1)
            .map(|w| w.to_lowercase().trim_end_matches('s').to_string())
            .collect()
    };
    let (p, i) = (words(product), words(item));
    if i.is_empty() {
        return 0.0;
    }
    let found = i.iter().filter(|w| p.contains(w)).count();
    found as f32 / i.len() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completion(content: &str) -> String {
        json!({ "choices": [{ "message": { "role": "assistant", "content": content } }] })
            .to_string()
    }

    #[test]
    fn reads_the_items_of_an_answer() {
        let body = completion(
            r#"{"items":[{"name":"black  beans","count":3,"best_before":"2027-03-12"},
                {"name":"Black beans","count":1,"best_before":null},
                {"name":"rice","count":1,"best_before":"2027-02-30"}]}"#,
        );
        let seen = parse(&body).unwrap();
        assert_eq!(
            seen,
            vec![
                Seen {
                    name: "black beans".into(),
                    count: 4,
                    best_before: Some("2027-03-12".into())
                },
                Seen {
                    name: "rice".into(),
                    count: 1,
                    best_before: None
                },
            ]
        );
    }

    #[test]
    fn a_fenced_answer_is_read_and_nonsense_refused() {
        assert_eq!(
            parse(&completion("```json\n{\"items\":[]}\n```")).unwrap(),
            vec![]
        );
        assert!(parse("<html>")
            .unwrap_err()
            .contains("not a chat completion"));
        assert!(parse(&completion("I see some cans."))
            .unwrap_err()
            .contains("outside the schema"));
        let body = json!({ "choices": [] }).to_string();
        assert!(parse(&body).unwrap_err().contains("without any content"));
        let many = format!(
            r#"{{"items":[{}]}}"#,
            vec![r#"{"name":"x","count":1,"best_before":null}"#; 31].join(",")
        );
        assert!(parse(&completion(&many)).unwrap_err().contains("at most"));
        let silly = completion(
            r#"{"items":[{"name":"beans","count":100000,"best_before":null},{"name":"","count":1,"best_before":null}]}"#,
        );
        assert_eq!(parse(&silly).unwrap(), vec![]);
    }

    #[test]
    fn a_converse_answer_is_read_from_its_tool_call() {
        let body = json!({ "output": { "message": { "role": "assistant", "content": [
            { "text": "Here is what I see." },
            { "toolUse": { "toolUseId": "t1", "name": "record_items", "input": { "items": [
                { "name": "rice", "count": 2, "best_before": "2027-01-31" }
            ]}}}
        ]}}, "stopReason": "tool_use" });
        assert_eq!(
            parse_converse(&body.to_string()).unwrap(),
            vec![Seen {
                name: "rice".into(),
                count: 2,
                best_before: Some("2027-01-31".into())
            }]
        );
        let text =
            json!({ "output": { "message": { "content": [{ "text": "{\"items\":[]}" }] } } });
        assert_eq!(parse_converse(&text.to_string()).unwrap(), vec![]);
        let wrong = json!({ "output": { "message": { "content": [{ "toolUse": { "input": { "things": 1 } } }] } } });
        assert!(parse_converse(&wrong.to_string())
            .unwrap_err()
            .contains("outside the schema"));
    }

    #[test]
    fn names_match_by_their_words() {
        assert_eq!(name_match("Black beans 400 g", "beans"), 1.0);
        assert_eq!(name_match("Black beans", "black bean"), 1.0);
        assert_eq!(name_match("Beans", "black beans"), 0.5);
        assert_eq!(name_match("Rice", "black beans"), 0.0);
    }
}
