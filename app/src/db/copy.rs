//! Copies every row of one Larder database into another, empty one on
//! PostgreSQL: the step from a single SQLite instance to replicas.
//!
//! Both databases are migrated first, so they have the same tables; the
//! target's catalogue says which columns to fill and of what type, and in
//! which order its foreign keys need the tables. Everything is read in one
//! transaction on the source (a consistent snapshot, even if a server were
//! still writing) and written in one on the target, so a failed copy leaves
//! the target as empty as it was. Identity columns (the event log's `seq`)
//! keep their values, and their sequences continue after them, so the event
//! log and every consumer's checkpoint mean the same on the new database.
//!
//! Why not a tool such as pgloader: it is not in Debian's current release
//! for every architecture, knows nothing of generated columns or of which
//! tables Larder owns, and would be one more program for an operator to
//! install; the two schemas here move in lockstep, so the copy is a loop.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::TryStreamExt as _;
use sqlx::{Executor as _, Row as _};

use super::{Backend, Db};

/// At most this many values per insert (PostgreSQL allows 65 535
/// parameters per statement).
const VALUES_PER_INSERT: usize = 20_000;

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("the target must be PostgreSQL (DATABASE_URL=postgres://…); it is SQLite")]
    TargetNotPostgres,
    #[error("the target database already holds data (table {0} has rows): copy into a new, empty database, so nothing there is overwritten")]
    TargetNotEmpty(String),
    #[error("the tables' foreign keys form a cycle ({0}); cannot order the copy")]
    Cycle(String),
    #[error("table {table}, column {column}: {source}")]
    Value {
        table: String,
        column: String,
        source: sqlx::Error,
    },
    #[error("after the copy, table {table} has {copied} rows on the target and {source_rows} on the source")]
    Count {
        table: String,
        copied: i64,
        source_rows: i64,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A column of the target, and how to carry its values.
#[derive(Debug, Clone)]
struct Column {
    name: String,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Int,
    Float,
    Text,
    Bytes,
}

#[derive(Debug, Default)]
struct Table {
    columns: Vec<Column>,
    /// An identity column (`generated always`): inserted with
    /// `overriding system value`, its sequence moved past the copied rows.
    identity: Option<String>,
}

/// Rows copied per table, in the order they were copied.
pub type Copied = Vec<(String, i64)>;

/// Copies every row of `from` into `to`, which must be PostgreSQL and
/// empty. `progress` hears each table as it is done.
pub async fn copy_all(
    from: &Db,
    to: &Db,
    mut progress: impl FnMut(&str, i64),
) -> Result<Copied, CopyError> {
    if to.backend() != Backend::Postgres {
        return Err(CopyError::TargetNotPostgres);
    }
    let tables = target_tables(to).await?;
    let order = copy_order(to, &tables).await?;
    for name in &order {
        let has_rows: bool = sqlx::query_scalar::<_, bool>(&format!(
            "select exists (select 1 from {})",
            quote(name)
        ))
        .fetch_one(to.pool())
        .await?;
        if has_rows {
            return Err(CopyError::TargetNotEmpty(name.clone()));
        }
    }

    let mut source = from.pool().begin().await?;
    let mut target = to.pool().begin().await?;
    let mut copied = Vec::new();
    for name in &order {
        let table = &tables[name];
        let n = copy_table(&mut source, &mut target, name, table).await?;
        if let Some(column) = &table.identity {
            // The next value after the largest copied (1 on an empty table).
            target
                .execute(
                    sqlx::query(&format!(
                        "select setval(pg_get_serial_sequence($1, $2), \
                         coalesce((select max({c}) from {t}), 0) + 1, false)",
                        c = quote(column),
                        t = quote(name)
                    ))
                    .bind(name.as_str())
                    .bind(column.as_str()),
                )
                .await?;
        }
        let on_source: i64 = sqlx::query_scalar(&format!("select count(*) from {}", quote(name)))
            .fetch_one(&mut *source)
            .await?;
        if on_source != n {
            return Err(CopyError::Count {
                table: name.clone(),
                copied: n,
                source_rows: on_source,
            });
        }
        progress(name, n);
        copied.push((name.clone(), n));
    }
    target.commit().await?;
    source.rollback().await?;
    Ok(copied)
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// The target's tables (Larder's, not sqlx's bookkeeping), with the
/// columns an insert may fill.
async fn target_tables(to: &Db) -> Result<BTreeMap<String, Table>, sqlx::Error> {
    let rows = sqlx::query(
        "select c.table_name::text as t, c.column_name::text as c, c.data_type::text as ty, \
                c.is_identity::text as ident \
         from information_schema.columns c \
         join information_schema.tables t \
           on t.table_schema = c.table_schema and t.table_name = c.table_name \
         where c.table_schema = current_schema() and t.table_type = 'BASE TABLE' \
           and c.is_generated = 'NEVER' and c.table_name <> '_sqlx_migrations' \
         order by c.table_name, c.ordinal_position",
    )
    .fetch_all(to.pool())
    .await?;
    let mut tables: BTreeMap<String, Table> = BTreeMap::new();
    for r in rows {
        let name: String = r.try_get("t")?;
        let column: String = r.try_get("c")?;
        let ty: String = r.try_get("ty")?;
        let kind = match ty.as_str() {
            "bigint" | "integer" | "smallint" => Kind::Int,
            "double precision" | "real" => Kind::Float,
            "bytea" => Kind::Bytes,
            _ => Kind::Text,
        };
        let table = tables.entry(name).or_default();
        if r.try_get::<String, _>("ident")? == "YES" {
            table.identity = Some(column.clone());
        }
        table.columns.push(Column { name: column, kind });
    }
    Ok(tables)
}

/// Tables in an order where each comes after every table it references.
async fn copy_order(to: &Db, tables: &BTreeMap<String, Table>) -> Result<Vec<String>, CopyError> {
    let edges: Vec<(String, String)> = sqlx::query_as(
        "select conrelid::regclass::text, confrelid::regclass::text from pg_constraint \
         where contype = 'f' and connamespace = current_schema()::regnamespace",
    )
    .fetch_all(to.pool())
    .await?;
    let mut needs: BTreeMap<&str, BTreeSet<&str>> = tables
        .keys()
        .map(|t| (t.as_str(), BTreeSet::new()))
        .collect();
    for (table, referenced) in &edges {
        let (table, referenced) = (table.trim_matches('"'), referenced.trim_matches('"'));
        if table != referenced && tables.contains_key(referenced) {
            if let Some(set) = needs.get_mut(table) {
                set.insert(referenced);
            }
        }
    }
    let mut order: Vec<String> = Vec::with_capacity(needs.len());
    while !needs.is_empty() {
        let ready: Vec<&str> = needs
            .iter()
            .filter(|(_, n)| n.is_empty())
            .map(|(t, _)| *t)
            .collect();
        if ready.is_empty() {
            return Err(CopyError::Cycle(
                needs.keys().copied().collect::<Vec<_>>().join(", "),
            ));
        }
        for t in ready {
            needs.remove(t);
            for n in needs.values_mut() {
                n.remove(t);
            }
            order.push(t.to_string());
        }
    }
    Ok(order)
}

/// A value read from the source, bound as the target's column wants it.
enum Carried {
    Int(Option<i64>),
    Float(Option<f64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

async fn copy_table(
    source: &mut super::Tx,
    target: &mut super::Tx,
    name: &str,
    table: &Table,
) -> Result<i64, CopyError> {
    let list = table
        .columns
        .iter()
        .map(|c| quote(&c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let per_insert = (VALUES_PER_INSERT / table.columns.len().max(1)).max(1);
    let select = format!("select {list} from {}", quote(name));
    let mut rows = sqlx::query(&select).fetch(&mut **source);
    let mut batch: Vec<Vec<Carried>> = Vec::with_capacity(per_insert);
    let mut copied = 0i64;
    while let Some(row) = rows.try_next().await? {
        let mut values = Vec::with_capacity(table.columns.len());
        for (i, column) in table.columns.iter().enumerate() {
            let value = match column.kind {
                Kind::Int => row.try_get(i).map(Carried::Int),
                Kind::Float => row.try_get(i).map(Carried::Float),
                Kind::Text => row.try_get(i).map(Carried::Text),
                Kind::Bytes => row.try_get(i).map(Carried::Bytes),
            }
            .map_err(|source| CopyError::Value {
                table: name.to_string(),
                column: column.name.clone(),
                source,
            })?;
            values.push(value);
        }
        batch.push(values);
        if batch.len() == per_insert {
            copied += insert(target, name, &list, table, &mut batch).await?;
        }
    }
    copied += insert(target, name, &list, table, &mut batch).await?;
    Ok(copied)
}

async fn insert(
    target: &mut super::Tx,
    name: &str,
    list: &str,
    table: &Table,
    batch: &mut Vec<Vec<Carried>>,
) -> Result<i64, sqlx::Error> {
    if batch.is_empty() {
        return Ok(0);
    }
    let width = table.columns.len();
    let mut sql = format!("insert into {} ({list})", quote(name));
    if table.identity.is_some() {
        sql.push_str(" overriding system value");
    }
    sql.push_str(" values ");
    for r in 0..batch.len() {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..width {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", r * width + c + 1));
        }
        sql.push(')');
    }
    let mut query = sqlx::query(&sql);
    for row in batch.drain(..) {
        for value in row {
            query = match value {
                Carried::Int(v) => query.bind(v),
                Carried::Float(v) => query.bind(v),
                Carried::Text(v) => query.bind(v),
                Carried::Bytes(v) => query.bind(v),
            };
        }
    }
    Ok(query.execute(&mut **target).await?.rows_affected() as i64)
}
