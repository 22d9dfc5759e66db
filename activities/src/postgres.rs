//! Which Postgres errors a retry can fix. A value Postgres refuses (SQLSTATE class 22, "data
//! exception": a NUL byte or an invalid byte sequence in text, text too long for its column, a
//! number out of range) is refused again on every attempt: the activity fails for good, so the
//! invoice needs attention with Postgres's reason, instead of retrying for half an hour first.
//! Everything else (connections, serialization failures, lock timeouts) may pass and retries.

/// True when `e` is Postgres refusing a value (SQLSTATE class 22).
pub fn is_data_exception(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db.code().is_some_and(|code| code.starts_with("22")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use sqlx::PgPool;

    use super::*;

    async fn error_of(db: &PgPool, sql: &'static str, text: &str) -> sqlx::Error {
        sqlx::query(sql).bind(text).execute(db).await.expect_err(sql)
    }

    #[sqlx::test(migrations = false)]
    async fn values_postgres_refuses_are_data_exceptions(db: PgPool) {
        sqlx::query("CREATE TABLE notes (body varchar(5) NOT NULL)").execute(&db).await.unwrap();
        let insert = "INSERT INTO notes (body) VALUES ($1)";
        // 22021: text with a NUL byte (a pasted binary, a hostile client name).
        assert!(is_data_exception(&error_of(&db, insert, "a\0b").await));
        // 22001: longer than its column.
        assert!(is_data_exception(&error_of(&db, insert, "too long").await));
        // 22P02: not a number.
        assert!(is_data_exception(&error_of(&db, "SELECT $1::numeric", "ten").await));

        // Not about the value: 23502 (a constraint), 42P01 (no such table), the pool closed.
        let null = sqlx::query("INSERT INTO notes (body) VALUES (NULL)").execute(&db).await;
        assert!(!is_data_exception(&null.unwrap_err()));
        assert!(!is_data_exception(&error_of(&db, "INSERT INTO missing VALUES ($1)", "x").await));
        assert!(!is_data_exception(&sqlx::Error::PoolClosed));
    }
}
