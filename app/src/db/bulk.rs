//! Statements over whole row sets, with every value bound.
//!
//! A [`Statement`] reads its rows from named row sets (`with v as (…)`).
//! Each row set travels as **one bound parameter**: a JSON array of rows,
//! each row an array of its values in column order, written by
//! `serde_json`. The statement unpacks it on the server — SQLite with
//! `json_each`, PostgreSQL with `jsonb_array_elements` — so no value from
//! a user (a donor's name, a note, a product name) is ever written into
//! SQL text, and the SQL text of a statement does not depend on its rows:
//! sqlx prepares it once per connection and reuses it, as the writer's
//! own `prepare` used to.
//!
//! Why JSON and not typed arrays (`unnest($1::text[], …)`): Larder talks
//! to both databases through sqlx's `Any` driver, whose arguments carry
//! only scalars, and the movement writer shares its connection (and
//! transaction) with code written for that driver (a visit's rows). One
//! text parameter per row set is what `Any` can bind on both backends.
//!
//! [`Steps`] runs statements in order on one connection and gathers the
//! rows they answer.

use serde::Serialize;
use sqlx::Executor as _;

use super::{Backend, Conn, Row};
use crate::error::{AppError, AppResult};

/// A value of a row set.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Text(String),
    Int(i64),
    Null,
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// Rows a [`Statement`] reads, under a name its body uses as a table,
/// with the type of each column (`text` or `bigint`).
#[derive(Clone, Copy)]
pub struct RowSet {
    pub name: &'static str,
    pub columns: &'static [(&'static str, &'static str)],
}

impl RowSet {
    /// `name (a, b) as (select … from json_each($n))` on SQLite,
    /// `name as (select … from jsonb_array_elements($n::jsonb))` on
    /// PostgreSQL, where `$n` is `param`.
    pub fn cte(&self, backend: Backend, param: usize) -> String {
        let values: Vec<String> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, (column, kind))| match backend {
                // `->>` answers SQLite's own type for each JSON value:
                // text, integer or null.
                Backend::Sqlite => format!("value ->> {i}"),
                Backend::Postgres => match *kind {
                    "text" => format!("e ->> {i} as {column}"),
                    kind => format!("(e ->> {i})::{kind} as {column}"),
                },
            })
            .collect();
        match backend {
            Backend::Sqlite => {
                let names: Vec<&str> = self.columns.iter().map(|(c, _)| *c).collect();
                format!(
                    "{} ({}) as (select {} from json_each(${param}))",
                    self.name,
                    names.join(", "),
                    values.join(", ")
                )
            }
            Backend::Postgres => format!(
                "{} as (select {} from jsonb_array_elements(${param}::jsonb) as e)",
                self.name,
                values.join(", ")
            ),
        }
    }
}

/// A statement over row sets, written once for both backends.
pub struct Statement {
    /// For logs and tests.
    pub name: &'static str,
    pub inputs: &'static [RowSet],
    /// The statement after its `with`: reads the row sets by name.
    pub body: &'static str,
    /// PostgreSQL's body, where it differs.
    pub postgres: Option<&'static str>,
}

impl Statement {
    /// The statement's SQL for `backend`: its row sets as `with` parts,
    /// the first bound as `$1`, the next as `$2`, and so on.
    pub fn sql(&self, backend: Backend) -> String {
        let ctes: Vec<String> = self
            .inputs
            .iter()
            .enumerate()
            .map(|(i, input)| input.cte(backend, i + 1))
            .collect();
        let body = match backend {
            Backend::Postgres => self.postgres.unwrap_or(self.body),
            Backend::Sqlite => self.body,
        };
        format!("with {} {body}", ctes.join(", "))
    }
}

impl Statement {
    /// Runs the statement over `rows` on `conn` and returns how many rows
    /// it changed.
    pub async fn execute(
        &self,
        conn: &mut Conn,
        backend: Backend,
        rows: &[&[Vec<Value>]],
    ) -> AppResult<u64> {
        let sql = self.sql(backend);
        let mut query = sqlx::query(&sql);
        for param in encode(self, rows)? {
            query = query.bind(param);
        }
        Ok((&mut *conn).execute(query).await?.rows_affected())
    }
}

/// Rows as the JSON a row set's parameter carries (see [`RowSet::cte`]),
/// for a query that binds its own parameters besides.
pub fn encode_rows(rows: &[Vec<Value>]) -> AppResult<String> {
    serde_json::to_string(rows).map_err(|e| AppError::internal(&e))
}

/// Each row set as the JSON its parameter carries.
fn encode(statement: &Statement, rows: &[&[Vec<Value>]]) -> AppResult<Vec<String>> {
    if rows.len() != statement.inputs.len() {
        return Err(AppError::internal(&std::io::Error::other(format!(
            "{} reads {} row sets, given {}",
            statement.name,
            statement.inputs.len(),
            rows.len()
        ))));
    }
    let mut params = Vec::with_capacity(rows.len());
    for (input, rows) in statement.inputs.iter().zip(rows) {
        if let Some(row) = rows.iter().find(|r| r.len() != input.columns.len()) {
            return Err(AppError::internal(&std::io::Error::other(format!(
                "a row of {}.{} has {} values for {} columns",
                statement.name,
                input.name,
                row.len(),
                input.columns.len()
            ))));
        }
        params.push(serde_json::to_string(rows).map_err(|e| AppError::internal(&e))?);
    }
    Ok(params)
}

/// One statement of [`Steps`].
#[derive(Debug)]
struct Step {
    name: &'static str,
    sql: String,
    params: Vec<String>,
    /// Fail the steps unless the statement changed exactly this many rows.
    changes: Option<u64>,
}

/// Statements to run in order on one connection, each with its row sets
/// bound.
#[derive(Debug)]
pub struct Steps {
    backend: Backend,
    steps: Vec<Step>,
}

/// A step that changed another number of rows than it had to: another
/// writer changed them first.
#[derive(Debug)]
pub struct Stale {
    pub step: &'static str,
    pub expected: u64,
    pub changed: u64,
}

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} changed {} rows where {} were expected",
            self.step, self.changed, self.expected
        )
    }
}

impl std::error::Error for Stale {}

/// Why [`Steps::run`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Stale(#[from] Stale),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<StepError> for AppError {
    fn from(e: StepError) -> Self {
        AppError::internal(&e)
    }
}

impl Steps {
    pub fn new(backend: Backend) -> Self {
        Self {
            backend,
            steps: Vec::new(),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A statement with nothing to bind (`begin`, `commit`).
    pub fn plain(&mut self, sql: &'static str) -> &mut Self {
        self.steps.push(Step {
            name: sql,
            sql: sql.to_string(),
            params: Vec::new(),
            changes: None,
        });
        self
    }

    /// `statement` over `rows` (one list of rows per input, each row its
    /// values in column order).
    pub fn statement(
        &mut self,
        statement: &Statement,
        rows: &[&[Vec<Value>]],
    ) -> AppResult<&mut Self> {
        self.steps.push(Step {
            name: statement.name,
            sql: statement.sql(self.backend),
            params: encode(statement, rows)?,
            changes: None,
        });
        Ok(self)
    }

    /// Makes the last statement fail the steps with [`Stale`] unless it
    /// changed exactly `rows` rows.
    pub fn changing(&mut self, rows: u64) -> &mut Self {
        if let Some(step) = self.steps.last_mut() {
            step.changes = Some(rows);
        }
        self
    }

    /// The statements' names, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.steps.iter().map(|s| s.name).collect()
    }

    /// Runs the statements in order and returns the rows they answered.
    /// The first failure ends the run: a transaction the steps began is
    /// then still open, and the caller rolls it back or drops `conn`.
    pub async fn run(&self, conn: &mut Conn) -> Result<Vec<Row>, StepError> {
        let mut rows = Vec::new();
        for step in &self.steps {
            if step.params.is_empty() {
                rows.extend((&mut *conn).fetch_all(sqlx::raw_sql(&step.sql)).await?);
                continue;
            }
            let mut query = sqlx::query(&step.sql);
            for param in &step.params {
                query = query.bind(param.as_str());
            }
            match step.changes {
                Some(expected) => {
                    let changed = (&mut *conn).execute(query).await?.rows_affected();
                    if changed != expected {
                        return Err(StepError::Stale(Stale {
                            step: step.name,
                            expected,
                            changed,
                        }));
                    }
                }
                None => rows.extend((&mut *conn).fetch_all(query).await?),
            }
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAIRS: Statement = Statement {
        name: "pairs",
        inputs: &[RowSet {
            name: "v",
            columns: &[("a", "text"), ("n", "bigint")],
        }],
        body: "select a, n from v",
        postgres: None,
    };

    #[test]
    fn row_sets_are_unpacked_on_the_server() {
        assert_eq!(
            PAIRS.sql(Backend::Sqlite),
            "with v (a, n) as (select value ->> 0, value ->> 1 from json_each($1)) select a, n from v"
        );
        assert_eq!(
            PAIRS.sql(Backend::Postgres),
            "with v as (select e ->> 0 as a, (e ->> 1)::bigint as n from jsonb_array_elements($1::jsonb) as e) select a, n from v"
        );
    }

    #[test]
    fn values_travel_as_json_whatever_they_hold() {
        let rows = vec![
            vec![
                Value::from("it's a \\ \"quote\"'); drop table t; --"),
                Value::from(3),
            ],
            vec![Value::Null, Value::Null],
        ];
        let params = encode(&PAIRS, &[&rows]).unwrap();
        assert_eq!(
            params,
            [r#"[["it's a \\ \"quote\"'); drop table t; --",3],[null,null]]"#]
        );
    }

    #[test]
    fn rows_must_fit_their_row_set() {
        let short = vec![vec![Value::from("a")]];
        assert!(encode(&PAIRS, &[&short]).is_err());
        assert!(encode(&PAIRS, &[]).is_err());
    }
}
