//! The server function behind the API reference page: the OpenAPI document,
//! read into what the page lists.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// One operation of the API, as the reference page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub method: String,
    pub path: String,
    pub summary: String,
    pub description: String,
    /// (name, where, required, description)
    pub parameters: Vec<(String, String, bool, String)>,
    /// A JSON body it takes, named by its schema.
    pub body: Option<String>,
    /// (status, description)
    pub responses: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiReference {
    pub title: String,
    pub description: String,
    pub endpoints: Vec<Endpoint>,
}

#[server(prefix = "/api", endpoint = "api_reference")]
pub async fn get_api_reference() -> Result<ApiReference, AppError> {
    let doc = serde_json::to_value(super::document()).map_err(|e| AppError::internal(&e))?;
    Ok(reference(&doc))
}

#[cfg(feature = "ssr")]
fn reference(doc: &serde_json::Value) -> ApiReference {
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let mut endpoints = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for method in ["get", "post", "put", "patch", "delete"] {
                let op = &item[method];
                if op.is_null() {
                    continue;
                }
                let parameters = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| {
                        (
                            s(&p["name"]),
                            s(&p["in"]),
                            p["required"].as_bool().unwrap_or(false),
                            s(&p["description"]),
                        )
                    })
                    .collect();
                let body = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                    .as_str()
                    .map(|r| r.rsplit('/').next().unwrap_or(r).to_string());
                let responses = op["responses"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(status, r)| (status.clone(), s(&r["description"])))
                    .collect();
                endpoints.push(Endpoint {
                    method: method.to_uppercase(),
                    path: path.clone(),
                    summary: s(&op["summary"]),
                    description: s(&op["description"]),
                    parameters,
                    body,
                    responses,
                });
            }
        }
    }
    ApiReference {
        title: s(&doc["info"]["title"]),
        description: s(&doc["info"]["description"]),
        endpoints,
    }
}
