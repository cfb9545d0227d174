//! The optional vision model: when one is configured, each photo also goes
//! to an OpenAI-compatible `/v1/chat/completions` endpoint (a local Ollama
//! or vLLM, or a hosted service) with a JSON schema for what it should
//! answer: the items it sees, how many of each, and any printed date. Its
//! answer is recorded as findings beside the barcodes, dates and matches,
//! and merged into the suggestions without replacing them; a failure or a
//! timeout is recorded on the photo and the offline analysis goes on.

use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;

/// Where the model is and how long to wait for it.
#[derive(Clone)]
pub struct VisionLlm {
    /// The API base, up to and including `/v1`.
    pub url: String,
    pub model: String,
    /// Sent as a bearer token when set.
    pub api_key: Option<String>,
    pub timeout: Duration,
}

impl std::fmt::Debug for VisionLlm {
    // The key stays out of logs and configuration dumps.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VisionLlm")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("timeout", &self.timeout)
            .finish()
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

impl VisionLlm {
    /// Asks the model about one JPEG. The error is a sentence for the
    /// photo's record ("timed out after 60 s").
    pub async fn look(&self, client: &reqwest::Client, jpeg: &[u8]) -> Result<Vec<Seen>, String> {
        let image = format!(
            "data:image/jpeg;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(jpeg)
        );
        let body = json!({
            "model": self.model,
            "temperature": 0,
            "messages": [{
                "role": "user",
                "content": [
                    { "type": "text", "text": PROMPT },
                    { "type": "image_url", "image_url": { "url": image } }
                ]
            }],
            "response_format": {
                "type": "json_schema",
                "json_schema": { "name": "donation", "strict": true, "schema": schema() }
            }
        });
        let mut request = client
            .post(format!(
                "{}/chat/completions",
                self.url.trim_end_matches('/')
            ))
            .timeout(self.timeout)
            .json(&body);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(|e| {
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
        parse(&text)
    }
}

/// The items in a chat completion, checked: names trimmed and bounded,
/// counts plausible, dates real.
pub fn parse(body: &str) -> Result<Vec<Seen>, String> {
    let completion: Completion = serde_json::from_str(body)
        .map_err(|e| format!("answered something that is not a chat completion ({e})"))?;
    let content = completion
        .choices
        .into_iter()
        .next()
        .and_then(|c| c.message.content)
        .ok_or("answered without any content")?;
    // Some servers wrap JSON in a Markdown fence despite the schema.
    let content = content
        .trim()
        .trim_start_matches("```json")
        .trim_start_matches("```")
        .trim_end_matches("```")
        .trim();
    let answer: Answer =
        serde_json::from_str(content).map_err(|e| format!("answered outside the schema ({e})"))?;
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
    fn names_match_by_their_words() {
        assert_eq!(name_match("Black beans 400 g", "beans"), 1.0);
        assert_eq!(name_match("Black beans", "black bean"), 1.0);
        assert_eq!(name_match("Beans", "black beans"), 0.5);
        assert_eq!(name_match("Rice", "black beans"), 0.0);
    }
}
