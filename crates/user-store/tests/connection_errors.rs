//! A database that cannot be used is a clear typed error, never a panic.

use wxlogin_domain::{StoreError, error_chain};
use wxlogin_user_store::testing::test_sealer;
use wxlogin_user_store::{DatabaseUrl, DieselStore, PoolOptions};

fn quick() -> PoolOptions {
    PoolOptions {
        max_size: 1,
        connection_timeout: std::time::Duration::from_millis(500),
        ..PoolOptions::default()
    }
}

#[test]
fn an_unknown_scheme_is_refused_without_echoing_the_url() {
    match DieselStore::connect("mysql://root:hunter2@db/x", &quick(), test_sealer()) {
        Err(StoreError::InvalidUrl(msg)) => {
            assert!(msg.contains("mysql://"));
            assert!(!msg.contains("hunter2"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_in_memory_sqlite_database_is_refused() {
    for url in ["sqlite://:memory:", "sqlite::memory:", "sqlite://"] {
        assert!(
            matches!(DatabaseUrl::parse(url), Err(StoreError::InvalidUrl(_))),
            "{url}"
        );
    }
}

#[test]
fn urls_pick_their_backend_by_scheme() {
    assert_eq!(
        DatabaseUrl::parse("sqlite://data/x.db").ok(),
        Some(DatabaseUrl::Sqlite("data/x.db".into()))
    );
    assert_eq!(
        DatabaseUrl::parse("sqlite:///tmp/x.db").ok(),
        Some(DatabaseUrl::Sqlite("/tmp/x.db".into()))
    );
    assert!(DatabaseUrl::parse("postgresql://u@h/db").is_ok_and(|u| u.is_postgres()));
}

#[test]
fn a_postgres_url_is_shown_without_its_password() {
    let url = DatabaseUrl::parse("postgres://app:hunter2@db.internal:5432/wx").expect("valid");
    assert_eq!(
        url.to_string(),
        "postgres://<credentials>@db.internal:5432/wx"
    );
}

#[test]
fn an_unreachable_postgres_is_unavailable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let result = DieselStore::connect(
        &format!("postgres://u:hunter2@127.0.0.1:{port}/x"),
        &quick(),
        test_sealer(),
    );
    match result {
        Err(e @ StoreError::Unavailable(_)) => {
            let chain = error_chain(&e);
            assert!(!chain.contains("hunter2"), "{chain}");
            assert!(!format!("{e:?}").contains("hunter2"), "{e:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_sqlite_file_in_an_unwritable_place_is_unavailable() {
    let result = DieselStore::connect("sqlite:///proc/no/such/dir/x.db", &quick(), test_sealer());
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
}

#[cfg(unix)]
#[test]
fn a_new_sqlite_file_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let db = wxlogin_user_store::testing::TestDatabase::sqlite();
    let _store = DieselStore::connect(db.url(), &quick(), test_sealer()).expect("opens");
    let path = db.url().trim_start_matches("sqlite://");
    let mode = std::fs::metadata(path)
        .expect("created")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
}

#[test]
fn every_way_a_password_can_sit_in_a_postgres_url_is_redacted() {
    for (url, shown) in [
        (
            "postgres://app:hunter2@db.internal:5432/wx",
            "postgres://<credentials>@db.internal:5432/wx",
        ),
        (
            "postgres://app:hun@ter2@db.internal/wx",
            "postgres://<credentials>@db.internal/wx",
        ),
        (
            "postgres://db.internal/wx?user=app&password=hunter2&sslmode=require",
            "postgres://db.internal/wx?user=app&password=<redacted>&sslmode=require",
        ),
        (
            "postgresql:///wx?host=/run/pg&PASSWORD=hunter2",
            "postgresql:///wx?host=/run/pg&PASSWORD=<redacted>",
        ),
        (
            "postgres://app:hunter2@db/wx?sslpassword=hunter2",
            "postgres://<credentials>@db/wx?sslpassword=<redacted>",
        ),
    ] {
        let parsed = DatabaseUrl::parse(url).expect("valid");
        assert_eq!(parsed.to_string(), shown, "{url}");
        assert!(!format!("{parsed:?}").contains("hunter2"), "{url}");
    }
}

#[test]
fn a_postgres_url_with_its_password_as_a_parameter_stays_out_of_connection_errors() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    for url in [
        format!("postgres://127.0.0.1:{port}/x?user=u&password=hunter2"),
        format!("postgres:///x?host=127.0.0.1&port={port}&password=hunter2"),
        format!("postgres://u:hun@ter2@127.0.0.1:{port}/x"),
    ] {
        let error = DieselStore::connect(&url, &quick(), test_sealer()).expect_err("unreachable");
        let shown = format!("{} {error:?}", error_chain(&error));
        assert!(
            !shown.contains("hunter2") && !shown.contains("ter2"),
            "{shown}"
        );
    }
}
