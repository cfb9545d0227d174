//! The optional advisor: when a vision model is configured for photos, a
//! raised issue is also shown to it (text only, the same OpenAI-compatible
//! or Bedrock configuration), and its few sentences are kept as the
//! issue's advice. It runs beside the analyser, never in its way: each
//! question is its own task with the model's timeout, and a failure or a
//! timeout leaves the issue as the analyser raised it.

use std::sync::Arc;

use sqlx::Row as _;

use crate::db::Db;
use crate::events::bus::{BoxFuture, Consumer, Delivery, Durability};
use crate::events::domain::DomainEvent;
use crate::events::store::Event;
use crate::photos::llm::VisionLlm;

pub struct StockAdvisor {
    pub db: Db,
    pub model: Arc<VisionLlm>,
    pub http: reqwest::Client,
}

impl Consumer for StockAdvisor {
    fn name(&self) -> &'static str {
        "stock-advisor"
    }

    /// Advice is a nicety: an issue raised while the process was down
    /// goes without.
    fn durability(&self) -> Durability {
        Durability::Ephemeral
    }

    fn handle<'a>(
        &'a self,
        event: &'a Event,
        _delivery: &'a mut Delivery,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            if let Ok(DomainEvent::StockIssueRaised(raised)) = event.domain() {
                let (db, model, http) = (self.db.clone(), self.model.clone(), self.http.clone());
                let issue = raised.issue_id.clone();
                tokio::spawn(async move {
                    if let Err(e) = advise(&db, &model, &http, &issue).await {
                        tracing::warn!(issue = %issue, error = %e, "the advisor gave no advice");
                    }
                });
            }
            Ok(())
        })
    }
}

/// What the model is asked: the issue as the coordinator reads it.
pub fn prompt(
    title: &str,
    explanation: &str,
    numbers: &[(String, String)],
    action: &str,
) -> String {
    let numbers: Vec<String> = numbers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!(
        "You help the coordinator of a food pantry. Larder, their stock software, raised this issue.\n\
         Issue: {title}\n{explanation}\nNumbers: {}\nLarder proposes: {action}\n\
         In at most three short sentences of plain words, say what they should check or do. \
         Do not repeat the numbers; no lists, no markdown.",
        numbers.join("; ")
    )
}

async fn advise(
    db: &Db,
    model: &VisionLlm,
    http: &reqwest::Client,
    issue: &str,
) -> Result<(), String> {
    let row = sqlx::query("select title, explanation, numbers, proposal from stock_issues where id = $1 and status = 'open'")
        .bind(issue)
        .fetch_optional(db.pool())
        .await
        .map_err(|e| e.to_string())?;
    let Some(row) = row else { return Ok(()) };
    let get = |c: &str| row.try_get::<String, _>(c).map_err(|e| e.to_string());
    let numbers: Vec<(String, String)> =
        serde_json::from_str(&get("numbers")?).map_err(|e| e.to_string())?;
    let proposal: super::model::Proposal =
        serde_json::from_str(&get("proposal")?).map_err(|e| e.to_string())?;
    let advice = model
        .advise(
            http,
            &prompt(
                &get("title")?,
                &get("explanation")?,
                &numbers,
                &proposal.action_label(),
            ),
        )
        .await?;
    sqlx::query("update stock_issues set advice = $1 where id = $2")
        .bind(advice)
        .bind(issue)
        .execute(db.pool())
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}
