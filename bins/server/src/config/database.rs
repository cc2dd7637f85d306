//! The database: `DATABASE_URL` (SQLite by default; SQLite only in dev mode) and
//! `DATABASE_LISTEN_URL`, the change feed's own connection to PostgreSQL.

use wxlogin_user_store::DatabaseUrl;

use super::vars::Vars;

/// The SQLite file used when `DATABASE_URL` is not set.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://wxlogin.db";

/// `DATABASE_URL`, checked (the text is kept as given: the store reads it).
pub(super) fn database_url(dev: bool, vars: &mut Vars<'_>) -> String {
    let database_url = vars
        .get("DATABASE_URL")
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
    match DatabaseUrl::parse(&database_url) {
        Err(e) => vars.problem(format!("DATABASE_URL: {e}")),
        // Dev mode's users are fakes: they have no business in a shared database.
        Ok(url) if dev && url.is_postgres() => vars.problem(
            "DATABASE_URL is a PostgreSQL database, but --dev runs on SQLite only: use \
             sqlite://<path> or drop --dev",
        ),
        Ok(_) => {}
    }
    database_url
}

/// `DATABASE_LISTEN_URL`: a postgres:// URL, for a PostgreSQL `database_url` only.
pub(super) fn listen_url(vars: &mut Vars<'_>, database_url: &str) -> Option<DatabaseUrl> {
    let listen = vars.get("DATABASE_LISTEN_URL")?;
    match DatabaseUrl::parse(&listen) {
        Ok(listen) if listen.is_postgres() && database_url.starts_with("postgres") => Some(listen),
        Ok(_) => {
            vars.problem(
                "DATABASE_LISTEN_URL is for a PostgreSQL DATABASE_URL, and must be a \
                 postgres:// URL itself (a direct connection for the change feed)",
            );
            None
        }
        Err(e) => {
            vars.problem(format!("DATABASE_LISTEN_URL: {e}"));
            None
        }
    }
}
