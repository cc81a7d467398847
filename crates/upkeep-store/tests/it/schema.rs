//! The SQLite and PostgreSQL schemas stay the same after every migration: the same tables, the
//! same columns by name with compatible types and the same nullability, and the same indexes by
//! name on the same tables. Each query is written once for both backends, so a column or an
//! index that one migration set forgets is a bug waiting for the other backend.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::Row;
use upkeep_store::testing::{TestDatabase, postgres_url};

/// Table → column → (type class, nullable).
type Columns = BTreeMap<String, BTreeMap<String, (&'static str, bool)>>;
/// (index name, table) of the indexes the migrations create by name.
type Indexes = BTreeSet<(String, String)>;

/// The class of a SQLite declared type; PostgreSQL types map to the same classes.
fn sqlite_class(declared: &str) -> &'static str {
    match declared.to_ascii_uppercase().as_str() {
        "INTEGER" | "BIGINT" | "INT" => "integer",
        "BOOLEAN" => "boolean",
        "TEXT" => "text",
        "REAL" | "DOUBLE" => "real",
        "BLOB" => "blob",
        _ => "unknown",
    }
}

fn postgres_class(data_type: &str) -> &'static str {
    match data_type {
        "bigint" | "integer" | "smallint" => "integer",
        "boolean" => "boolean",
        "text" | "character varying" => "text",
        "double precision" | "real" => "real",
        "bytea" => "blob",
        _ => "unknown",
    }
}

/// Whether a SQLite column of class `lite` stores what a PostgreSQL column of class `pg` does.
/// SQLite has no boolean type: an INTEGER column holding 0/1 matches a PostgreSQL boolean.
fn compatible(lite: &str, pg: &str) -> bool {
    lite == pg || (lite == "integer" && pg == "boolean")
}

async fn sqlite_schema(db: &TestDatabase) -> (Columns, Indexes) {
    let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx_%'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut columns = Columns::new();
    for table in tables {
        let rows = sqlx::query("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?)")
            .bind(&table)
            .fetch_all(&pool)
            .await
            .unwrap();
        let cols = columns.entry(table).or_default();
        for row in rows {
            let name: String = row.get(0);
            let declared: String = row.get(1);
            let not_null: i64 = row.get(2);
            let pk: i64 = row.get(3);
            // A primary-key column is never NULL on PostgreSQL; say so for SQLite too.
            cols.insert(name, (sqlite_class(&declared), not_null == 0 && pk == 0));
        }
    }
    let indexes = sqlx::query(
        "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
    .into_iter()
    .map(|row| (row.get(0), row.get(1)))
    .collect();
    pool.close().await;
    (columns, indexes)
}

async fn postgres_schema(db: &TestDatabase) -> (Columns, Indexes) {
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let rows = sqlx::query(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text \
         FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name NOT LIKE '\\_sqlx\\_%'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut columns = Columns::new();
    for row in rows {
        let table: String = row.get(0);
        let column: String = row.get(1);
        let data_type: String = row.get(2);
        let nullable: String = row.get(3);
        columns
            .entry(table)
            .or_default()
            .insert(column, (postgres_class(&data_type), nullable == "YES"));
    }
    // The indexes created by name: not those PostgreSQL makes for a primary key or a UNIQUE
    // constraint (SQLite's counterparts are its unnamed `sqlite_autoindex_*`).
    let indexes = sqlx::query(
        "SELECT i.indexname::text, i.tablename::text FROM pg_indexes i \
         WHERE i.schemaname = current_schema() AND i.tablename NOT LIKE '\\_sqlx\\_%' \
         AND NOT EXISTS (SELECT 1 FROM pg_constraint c \
                         JOIN pg_namespace n ON n.oid = c.connamespace \
                         WHERE n.nspname = current_schema() AND c.conname = i.indexname)",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
    .into_iter()
    .map(|row| (row.get(0), row.get(1)))
    .collect();
    pool.close().await;
    (columns, indexes)
}

#[tokio::test]
async fn sqlite_and_postgres_have_the_same_schema_after_all_migrations() {
    let Some(url) = postgres_url("sqlite_and_postgres_have_the_same_schema_after_all_migrations")
    else {
        return;
    };
    let lite_db = TestDatabase::sqlite();
    lite_db.store().await.close().await;
    let pg_db = TestDatabase::postgres(&url).await;
    pg_db.store().await.close().await;
    let (lite, lite_indexes) = sqlite_schema(&lite_db).await;
    let (pg, pg_indexes) = postgres_schema(&pg_db).await;
    pg_db.cleanup().await;

    assert!(lite.len() > 10, "the SQLite schema was read: {lite:?}");
    let lite_tables: BTreeSet<&String> = lite.keys().collect();
    let pg_tables: BTreeSet<&String> = pg.keys().collect();
    assert_eq!(lite_tables, pg_tables, "tables");

    let mut differences = Vec::new();
    for (table, lite_cols) in &lite {
        let pg_cols = &pg[table];
        let names: BTreeSet<&String> = lite_cols.keys().chain(pg_cols.keys()).collect();
        for name in names {
            match (lite_cols.get(name), pg_cols.get(name)) {
                (Some(l), Some(p)) if compatible(l.0, p.0) && l.1 == p.1 => {}
                (l, p) => differences.push(format!(
                    "{table}.{name}: SQLite {l:?}, PostgreSQL {p:?} (class, nullable)"
                )),
            }
        }
    }
    assert!(
        differences.is_empty(),
        "columns differ:\n{}",
        differences.join("\n")
    );

    assert!(!lite_indexes.is_empty(), "the SQLite indexes were read");
    assert_eq!(lite_indexes, pg_indexes, "indexes (name, table)");
}

#[test]
fn type_classes_tell_compatible_types_from_the_others() {
    assert!(compatible(sqlite_class("BIGINT"), postgres_class("bigint")));
    assert!(compatible(
        sqlite_class("INTEGER"),
        postgres_class("boolean")
    ));
    assert!(compatible(sqlite_class("TEXT"), postgres_class("text")));
    assert!(!compatible(sqlite_class("TEXT"), postgres_class("bigint")));
    assert!(!compatible(sqlite_class("BOOLEAN"), postgres_class("text")));
    assert!(!compatible(
        sqlite_class("INTEGER"),
        postgres_class("jsonb")
    ));
}
