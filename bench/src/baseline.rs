//! The previous release, measured in the same run (`--baseline DIR`): its login and refresh
//! scenarios on the same database, before this release's, so the cost of what this release
//! adds to them (the audit log's entry in the login's and the refresh's transaction) is read
//! from one run; and the audit table's size per million logins.

use std::path::Path;

use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};

use crate::options::Database;
use crate::scenarios::{Bench, Outcome, Scenario, System, Tables};
use crate::servers::Launcher;
use crate::tables::Row;

/// The scenarios compared with the previous release.
pub const COMPARED: [Scenario; 2] = [Scenario::Login, Scenario::Refresh];

/// Runs [`COMPARED`] (those asked for) on the previous release's servers from `bin`.
pub fn run_previous(
    bench: &Bench<'_>,
    launcher: &Launcher<'_>,
    bin: &Path,
    asked: &[Scenario],
    run_id: &str,
) -> anyhow::Result<Outcome> {
    let scenarios: Vec<Scenario> = COMPARED.into_iter().filter(|s| asked.contains(s)).collect();
    let mut out = Outcome::default();
    if scenarios.is_empty() {
        return Ok(out);
    }
    let previous = Launcher { bin, ..*launcher };
    let servers = previous.start(None, "-baseline")?;
    let system = System {
        name: "previous release",
        addrs: servers.addrs.clone(),
        instances: servers.instances.clone(),
        database_measured: launcher.options.database == Database::Postgres,
        run_id: format!("{run_id}b"),
        cache_mib: Some(servers.cache_mib),
        tables: Tables::Sessions(launcher.database_url),
    };
    bench.run(&system, &scenarios, &mut out)?;
    Ok(out)
}

/// This release's rates over the previous release's, scenario by scenario.
pub fn ratios(ours: &[Row], previous: &[Row]) -> String {
    let mut out = String::new();
    for row in previous {
        if let Some(own) = ours.iter().find(|r| r.key == row.key) {
            out.push_str(&format!(
                "- {}, this release / the previous: {:.2}× ({:.0} / {:.0} per s)\n",
                row.label,
                own.rate / row.rate.max(1e-9),
                own.rate,
                row.rate
            ));
        }
    }
    out
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// The audit log's entries and their size with its indexes (`None` where SQLite was built
/// without `dbstat`), as a line of the report: what a million logins cost it.
pub fn audit_note(url: &str) -> anyhow::Result<String> {
    let first = |rows: Vec<Count>| rows.first().map_or(0, |c| u64::try_from(c.n).unwrap_or(0));
    let count_sql = "SELECT COUNT(*) AS n FROM audit_log";
    let (rows, bytes) = if let Some(path) = url.strip_prefix("sqlite://") {
        let mut conn = SqliteConnection::establish(path)?;
        let rows = first(diesel::sql_query(count_sql).load(&mut conn)?);
        let bytes = diesel::sql_query(
            "SELECT CAST(SUM(pgsize) AS BIGINT) AS n FROM dbstat WHERE name IN \
             (SELECT name FROM sqlite_master WHERE tbl_name = 'audit_log')",
        )
        .load(&mut conn)
        .ok()
        .map(first);
        (rows, bytes)
    } else {
        let mut conn = PgConnection::establish(url)?;
        let rows = first(diesel::sql_query(count_sql).load(&mut conn)?);
        let bytes = first(
            diesel::sql_query("SELECT pg_total_relation_size('audit_log') AS n").load(&mut conn)?,
        );
        (rows, Some(bytes))
    };
    Ok(match bytes {
        Some(bytes) if rows > 0 => format!(
            "audit_log: {rows} entries, {:.1} MiB with its indexes: {:.0} B an entry, \
             {:.0} MiB per million logins (a login writes one; a refresh one more)",
            bytes as f64 / 1048576.0,
            bytes as f64 / rows as f64,
            bytes as f64 / rows as f64 * 1e6 / 1048576.0
        ),
        _ => format!("audit_log: {rows} entries (no size: this SQLite has no dbstat)"),
    })
}
