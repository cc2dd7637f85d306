//! The lock on a SQLite file: a file another process serves is refused, however its path
//! reaches it; stores of one process share a file.

use wxlogin_domain::StoreError;
use wxlogin_user_store::testing::{TestDatabase, test_sealer};
use wxlogin_user_store::{DieselStore, PoolOptions};

#[test]
fn a_sqlite_file_another_process_serves_is_refused() {
    let db = TestDatabase::sqlite();
    let path = db.url().trim_start_matches("sqlite://").to_owned();
    std::fs::write(&path, b"").expect("the file");
    // What another process serving the file holds.
    let other = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(format!("{path}-lock"))
        .expect("lock file");
    other.try_lock().expect("locked");
    match DieselStore::connect(db.url(), &PoolOptions::default(), test_sealer()) {
        Err(e @ StoreError::Unavailable(_)) => {
            let chain = wxlogin_domain::error_chain(&e);
            assert!(chain.contains("another process serves"), "{chain}");
        }
        other => panic!("{other:?}"),
    }
    drop(other);
    assert!(
        DieselStore::connect(db.url(), &PoolOptions::default(), test_sealer()).is_ok(),
        "free again once that process lets go"
    );
}

/// The lock is named after the file, not the path given: a second process reaching the file
/// through a symlink meets the first one's lock.
#[test]
fn a_sqlite_file_reached_through_a_symlink_is_refused_too() {
    let db = TestDatabase::sqlite();
    let path = db.url().trim_start_matches("sqlite://").to_owned();
    std::fs::write(&path, b"").expect("the file");
    let link = format!("{path}-link.db");
    struct Removed(String);
    impl Drop for Removed {
        fn drop(&mut self) {
            for suffix in ["", "-lock"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", self.0));
            }
        }
    }
    let _removed = Removed(link.clone());
    std::os::unix::fs::symlink(&path, &link).expect("symlink");
    let other = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(format!("{path}-lock"))
        .expect("lock file");
    other.try_lock().expect("locked");
    match DieselStore::connect(
        &format!("sqlite://{link}"),
        &PoolOptions::default(),
        test_sealer(),
    ) {
        Err(e @ StoreError::Unavailable(_)) => {
            let chain = wxlogin_domain::error_chain(&e);
            assert!(chain.contains("another process serves"), "{chain}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn stores_of_one_process_share_a_sqlite_file() {
    let db = TestDatabase::sqlite();
    let first = DieselStore::connect(db.url(), &PoolOptions::default(), test_sealer());
    let second = DieselStore::connect(db.url(), &PoolOptions::default(), test_sealer());
    assert!(first.is_ok() && second.is_ok());
}
