//! `wxlogin-server`: reads the configuration, sets up logging, runs until SIGINT or SIGTERM.

use std::process::ExitCode;

use wxlogin_server::admin_command::{ADMIN_USAGE, AdminCommand};
use wxlogin_server::keys_command::KeysCommand;
use wxlogin_server::{Application, Config};

const USAGE: &str = "usage: wxlogin-server [--dev | --openapi]
       wxlogin-server [--dev] keys list | keys rotate
       wxlogin-server [--dev] admin ...   (user, ban, unban, sessions, revoke, delete, audit)

  --dev       dev mode: a built-in fake WeChat, no credentials needed, SQLite by default.
              Never for production.
  --openapi   print the OpenAPI 3.1 description of the HTTP API (what GET /openapi.json
              answers) and exit, for generating clients without a running server.
  keys list   the token signing keys of the configured database: kid, generation, algorithm,
              state, dates (never key material).
  keys rotate make the next signing key now: published at once, signing ~12 minutes later
              (after verifiers' cached key sets have expired).

Configuration comes from the environment (see README.md):
  WeChat:    WECHAT_APPID, WECHAT_SECRET, WECHAT_APPS_FILE, WECHAT_PUSH_TOKEN,
             WECHAT_PUSH_AES_KEY, WECHAT_API_BASE, WECHAT_TIMEOUT_SECS
  secrets:   TOKEN_SECRET, SESSION_KEY_SECRET, SESSION_KEY_SECRET_PREVIOUS
  tokens:    TOKEN_ALG, ACCESS_TOKEN_TTL_SECS, REFRESH_REUSE_SECS,
             TOKEN_KEY_ROTATION_DAYS, TOKEN_CACHE_MB
  sessions:  SESSION_TTL_SECS, SESSION_CACHE_MS, SESSION_CACHE_FEED_SECS,
             SESSION_CACHE_MB, SESSION_PURGE_SECS, CODE_REPLAY_SECS
  database:  DATABASE_URL, DATABASE_LISTEN_URL, DB_POOL_SIZE
  operators: ADMIN_BIND_ADDR, ADMIN_API_KEYS_FILE, AUDIT_RETENTION_DAYS
  serving:   BIND_ADDR, METRICS_BIND_ADDR, WORKERS, MAX_BODY_BYTES, TRUSTED_PROXIES,
             LOGIN_RATE_LIMIT, USER_RATE_LIMIT
  dev mode:  DEV_APPS
  logging:   RUST_LOG";

#[actix_web::main]
async fn main() -> ExitCode {
    let mut dev = false;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut keys = None;
    let mut admin = None;
    for (at, arg) in args.iter().enumerate() {
        match arg.as_str() {
            "--dev" => dev = true,
            "keys" => {
                let Some(command) = KeysCommand::parse(&args[at + 1..]) else {
                    eprintln!("wxlogin-server: keys takes list or rotate\n\n{USAGE}");
                    return ExitCode::from(2);
                };
                keys = Some(command);
                break;
            }
            "admin" => {
                let Some(command) = AdminCommand::parse(&args[at + 1..]) else {
                    eprintln!("wxlogin-server: usage: wxlogin-server {ADMIN_USAGE}");
                    return ExitCode::from(2);
                };
                admin = Some(command);
                break;
            }
            "--openapi" => {
                println!("{}", wxlogin_server::openapi::document_json());
                return ExitCode::SUCCESS;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "-V" | "--version" => {
                let dev = if cfg!(feature = "dev") {
                    "with --dev (the fake WeChat is built in)"
                } else {
                    "without --dev"
                };
                println!("wxlogin-server {} ({dev})", env!("CARGO_PKG_VERSION"));
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("wxlogin-server: unknown argument {other:?}\n\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }

    let config = match Config::from_env(dev, |name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(problems) => {
            for problem in problems {
                eprintln!("wxlogin-server: configuration error: {problem}");
            }
            return ExitCode::from(1);
        }
    };
    if let Some(command) = admin {
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
        return match command.run(&config).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("wxlogin-server: admin: {e:#}");
                ExitCode::from(1)
            }
        };
    }
    if let Some(command) = keys {
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
        return match command.run(&config).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("wxlogin-server: keys: {e:#}");
                ExitCode::from(1)
            }
        };
    }
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    // Registered before the server logs that it listens, so that a signal sent as soon as it
    // does is already ours (the default action would end the process abruptly).
    let signals = match Signals::register() {
        Ok(signals) => signals,
        Err(e) => {
            eprintln!("wxlogin-server: cannot handle SIGINT/SIGTERM: {e}");
            return ExitCode::from(1);
        }
    };

    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("wxlogin-server: cannot start: {e:#}");
            return ExitCode::from(1);
        }
    };
    let handle = app.handle();
    actix_web::rt::spawn(async move {
        let signal = signals.wait().await;
        log::info!("{signal} received: finishing requests in flight, then stopping");
        handle.stop(true).await;
    });
    match app.run_until_stopped().await {
        Ok(()) => {
            log::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("wxlogin-server: {e}");
            ExitCode::from(1)
        }
    }
}

/// SIGINT and SIGTERM, both handled so both stop gracefully (actix alone would stop abruptly
/// on SIGINT).
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn register() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Waits for either and says which.
    async fn wait(mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}
