//! The SQLite and PostgreSQL migrations must describe the same schema
//! (generated columns included: `table_xinfo` lists them).

use std::collections::BTreeSet;

use sqlx::Row;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_schemas_have_the_same_tables_and_columns() {
    let sqlite = spawn_app(Backend::Sqlite).await;
    let postgres = spawn_app(Backend::Postgres).await;
    let lite: BTreeSet<(String, String)> = sqlx::query(
        "select m.name as t, p.name as c from sqlite_master m join pragma_table_xinfo(m.name) p \
         where m.type = 'table' and m.name not like '\\_%' escape '\\' and m.name not like 'sqlite%'",
    )
    .fetch_all(sqlite.server.state.db.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get::<String, _>("t"), r.get::<String, _>("c")))
    .collect();
    let pg: BTreeSet<(String, String)> = sqlx::query(
        "select table_name::text as t, column_name::text as c from information_schema.columns \
         where table_schema = 'public' and table_name not like '\\_%'",
    )
    .fetch_all(postgres.server.state.db.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get::<String, _>("t"), r.get::<String, _>("c")))
    .collect();
    assert!(lite.len() > 10, "{lite:?}");
    assert_eq!(
        lite,
        pg,
        "only in SQLite: {:?}; only in PostgreSQL: {:?}",
        lite.difference(&pg).collect::<Vec<_>>(),
        pg.difference(&lite).collect::<Vec<_>>()
    );
}

crate::on_both_databases!(row_sets_reach_the_database_unchanged);

/// What the movement writer's statements carry (text with quotes,
/// backslashes, braces, commas, the word NULL, any Unicode; the extremes of
/// a bigint; nulls; SQL of its own) arrives as it left, bound as one JSON
/// parameter per row set on both databases.
async fn row_sets_reach_the_database_unchanged(backend: Backend) {
    use app::db::{RowSet, Statement, Steps, Value};
    const ECHO: Statement = Statement {
        name: "echo_test",
        inputs: &[
            RowSet {
                name: "v",
                columns: &[("i", "bigint"), ("t", "text"), ("n", "bigint")],
            },
            RowSet {
                name: "w",
                columns: &[("t", "text")],
            },
        ],
        body: "select i, t, n, (select count(*) from w) as w_rows from v order by i",
        postgres: None,
    };
    let texts = [
        "it's",
        "back\\slash",
        "quote\"d",
        "{braces}",
        "a,b",
        "NULL",
        "",
        " lead and trail ",
        "ünïcödé 😀",
        "line\nbreak\ttab",
        "\\\"",
        "'); drop table movements; --",
        "$1 $$ ? :name @p",
        "\u{202e}bidi",
    ];
    let mut rows: Vec<Vec<Value>> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            vec![
                Value::Int(i as i64),
                Value::from(*t),
                Value::Int(i as i64 - 5),
            ]
        })
        .collect();
    rows.push(vec![Value::Int(100), Value::Null, Value::Int(i64::MIN)]);
    rows.push(vec![
        Value::Int(101),
        Value::from("max"),
        Value::Int(i64::MAX),
    ]);
    rows.push(vec![Value::Int(102), Value::from("no number"), Value::Null]);
    let app = spawn_app(backend).await;
    let db = &app.server.state.db;
    let mut conn = db.pool().acquire().await.unwrap();
    let mut steps = Steps::new(db.backend());
    steps.statement(&ECHO, &[&rows, &[]]).unwrap();
    let got = steps.run(&mut *conn).await.unwrap();
    let got: Vec<Vec<Value>> = got
        .iter()
        .map(|r| {
            assert_eq!(r.get::<i64, _>("w_rows"), 0);
            vec![
                Value::Int(r.get("i")),
                r.get::<Option<String>, _>("t").as_ref().into(),
                r.get::<Option<i64>, _>("n").into(),
            ]
        })
        .collect();
    assert_eq!(got, rows);
}
