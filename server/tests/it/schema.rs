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
