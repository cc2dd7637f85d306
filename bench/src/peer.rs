//! The peer stack (`bench/peers/fastify`): installed from its lockfile, given a table of its
//! own in a PostgreSQL database of its own holding as many users, and started as one process
//! per core.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use diesel::{Connection, PgConnection, RunQueryDsl};
use wxlogin_bench::harness::{Guard, free_addr, step, wait_until_up};
use wxlogin_fake_wechat::{DEV_APPID, DEV_SECRET};

use crate::measure::{Instance, children_of};
use crate::options::Peer;

/// The peer's table: what a login stack without sessions keeps.
const SCHEMA: &str = "CREATE TABLE peer_users (\
     id BIGSERIAL PRIMARY KEY, openid TEXT NOT NULL UNIQUE, session_key TEXT NOT NULL, \
     nick_name TEXT, avatar_url TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)";

/// Makes the peer's table in the (fresh) database at `url` and fills it with `users` users.
pub fn populate(url: &str, users: u64) -> anyhow::Result<()> {
    let mut conn = PgConnection::establish(url).context("connecting to the peer's database")?;
    conn.transaction(|conn| -> diesel::QueryResult<()> {
        diesel::sql_query(SCHEMA).execute(conn)?;
        diesel::sql_query(format!(
            "INSERT INTO peer_users (openid, session_key, nick_name, created_at, updated_at) \
             SELECT 'bench-openid-' || i, '', 'user ' || i, 0, 0 FROM generate_series(1, {users}) AS i"
        ))
        .execute(conn)?;
        diesel::sql_query("ANALYZE peer_users").execute(conn)?;
        Ok(())
    })?;
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct Held {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    users: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    bytes: i64,
}

/// The users in the peer's table, and its size with its indexes.
pub fn users_held(url: &str) -> anyhow::Result<(u64, u64)> {
    let mut conn = PgConnection::establish(url).context("connecting to the peer's database")?;
    let held: Vec<Held> = diesel::sql_query(
        "SELECT COUNT(*) AS users, pg_total_relation_size('peer_users') AS bytes FROM peer_users",
    )
    .load(&mut conn)?;
    let held = held.first().context("no count")?;
    Ok((
        u64::try_from(held.users).unwrap_or(0),
        u64::try_from(held.bytes).unwrap_or(0),
    ))
}

/// A running peer: its primary process (killed, with its workers, when dropped) and address.
pub struct Running {
    _primary: Guard,
    pub addr: SocketAddr,
    pub instance: Instance,
}

/// Installs the peer's packages if they are not (`npm ci`, from the committed lockfile) and
/// starts it against the fake WeChat at `wechat` and the database at `url`.
pub fn start(
    root: &Path,
    work: &Path,
    peer: Peer,
    url: &str,
    wechat: SocketAddr,
    token_secret: &str,
) -> anyhow::Result<Running> {
    let dir = root.join("bench/peers").join(peer.name());
    if !dir.join("node_modules").is_dir() {
        step(&format!("installing the {} peer (npm ci)", peer.name()));
        let status = Command::new("npm")
            .current_dir(&dir)
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .status()
            .context("running npm (Node.js 20 and npm are needed for --peer)")?;
        if !status.success() {
            bail!("npm ci in {} failed", dir.display());
        }
    }
    let addr = free_addr()?;
    let primary = Guard(
        Command::new("node")
            .current_dir(&dir)
            .arg("server.mjs")
            .env("PEER_ADDR", addr.to_string())
            .env("DATABASE_URL", url)
            .env("WECHAT_API_BASE", format!("http://{wechat}"))
            .env("WECHAT_APPID", DEV_APPID)
            .env("WECHAT_SECRET", DEV_SECRET)
            .env("TOKEN_SECRET", token_secret)
            .env("NODE_ENV", "production")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(work.join("peer.log"))?)
            .spawn()
            .context("starting the peer with node")?,
    );
    wait_until_up(addr, "/healthz")?;
    let pid = primary.0.id();
    // Every worker listens before the primary's port answers reliably; give late ones a moment.
    std::thread::sleep(Duration::from_millis(300));
    let mut pids = vec![pid];
    pids.extend(children_of(pid));
    Ok(Running {
        _primary: primary,
        addr,
        instance: Instance {
            pids,
            metrics: None,
        },
    })
}
