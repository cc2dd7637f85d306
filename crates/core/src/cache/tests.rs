//! Tests of the parent module, kept apart so that it reads as what it does.

use super::*;

fn user(id: &str, nick: &str) -> User {
    User {
        id: id.into(),
        unionid: None,
        nick_name: Some(nick.into()),
        avatar_url: None,
        gender: None,
        phone_number: None,
        apps: vec!["wxapp".into()],
        created_at: 0,
        updated_at: 0,
    }
}

fn session(id: &str, user_id: &str) -> Session {
    Session {
        id: id.into(),
        user_id: user_id.into(),
        appid: "wxapp".into(),
        created_at: 0,
        expires_at: 100,
        revoked_at: None,
    }
}

#[test]
fn a_remembered_session_is_found_with_its_user() {
    let cache = SessionCache::new(Duration::from_secs(60));
    cache.put(&session("s", "u"), &user("u", "a"), cache.ticket());
    let hit = cache.get("s").expect("hit");
    assert_eq!(
        (hit.user.id.as_str(), hit.user_id.as_str(), hit.expires_at),
        ("u", "u", 100)
    );
    assert!(cache.get("other").is_none());
}

#[test]
fn while_the_feed_is_heard_entries_are_trusted_for_the_longer_window() {
    let cache = SessionCache::with_feed(
        Duration::from_millis(20),
        Duration::from_secs(60),
        Duration::from_secs(60),
    );
    cache.put(&session("s", "u"), &user("u", "a"), cache.ticket());
    cache.apply_change(&StoreChange::Heard);
    std::thread::sleep(Duration::from_millis(40));
    assert!(
        cache.get("s").is_some(),
        "past the short window, within the long one"
    );
    cache.apply_change(&StoreChange::SessionEnded("s".into()));
    assert!(
        cache.get("s").is_none(),
        "what the feed tells still goes at once"
    );
}

#[test]
fn a_feed_that_falls_silent_or_missed_changes_leaves_only_the_short_window() {
    let cache = SessionCache::with_feed(
        Duration::from_millis(20),
        Duration::from_secs(60),
        Duration::from_millis(30),
    );
    cache.put(&session("s", "u"), &user("u", "a"), cache.ticket());
    cache.apply_change(&StoreChange::Heard);
    std::thread::sleep(Duration::from_millis(50));
    assert!(cache.get("s").is_none(), "not heard within its grace");

    let cache = SessionCache::with_feed(
        Duration::from_millis(20),
        Duration::from_secs(60),
        Duration::from_secs(60),
    );
    cache.apply_change(&StoreChange::Heard);
    cache.apply_change(&StoreChange::Missed);
    cache.put(&session("s", "u"), &user("u", "a"), cache.ticket());
    std::thread::sleep(Duration::from_millis(40));
    assert!(
        cache.get("s").is_none(),
        "not heard since it missed something"
    );
    cache.apply_change(&StoreChange::Heard);
    assert!(cache.get("s").is_some(), "heard again");
}

#[test]
fn without_a_feed_the_short_window_is_the_only_one() {
    let cache = SessionCache::with_feed(
        Duration::from_millis(20),
        Duration::from_secs(60),
        Duration::from_secs(60),
    );
    cache.put(&session("s", "u"), &user("u", "a"), cache.ticket());
    std::thread::sleep(Duration::from_millis(40));
    assert!(cache.get("s").is_none());
}

#[test]
fn entries_are_trusted_only_within_the_window() {
    let cache = SessionCache::new(Duration::from_millis(50));
    cache.put(&session("s", "u"), &user("u", "a"), cache.ticket());
    assert!(cache.get("s").is_some());
    std::thread::sleep(Duration::from_millis(60));
    assert!(cache.get("s").is_none());
}

#[test]
fn trust_is_spread_over_the_second_half_of_the_window() {
    let cache = SessionCache::new(Duration::from_millis(1000));
    let spreads: Vec<Duration> = (0..100).map(|i| cache.spread(&format!("s{i}"))).collect();
    assert!(
        spreads
            .iter()
            .all(|d| *d >= Duration::from_millis(500) && *d <= Duration::from_millis(1000))
    );
    assert!(spreads.iter().any(|d| *d != spreads[0]), "not all alike");
}

#[test]
fn a_zero_window_turns_the_cache_off() {
    let cache = SessionCache::new(Duration::ZERO);
    cache.put(&session("s", "u"), &user("u", "a"), cache.ticket());
    assert!(cache.get("s").is_none());
}

#[test]
fn revoked_sessions_are_not_cached_and_forgotten_ones_are_gone() {
    let cache = SessionCache::new(Duration::from_secs(60));
    let mut revoked = session("r", "u");
    revoked.revoked_at = Some(5);
    cache.put(&revoked, &user("u", "a"), cache.ticket());
    assert!(cache.get("r").is_none());
    cache.put(&session("s", "u"), &user("u", "a"), cache.ticket());
    cache.forget_session("s");
    assert!(cache.get("s").is_none());
}

#[test]
fn a_local_profile_change_shows_at_once_in_every_session_of_the_user() {
    let cache = SessionCache::new(Duration::from_secs(60));
    cache.put(&session("s1", "u"), &user("u", "old"), cache.ticket());
    cache.put(&session("s2", "u"), &user("u", "old"), cache.ticket());
    cache.update_user(&user("u", "new"));
    for s in ["s1", "s2"] {
        assert_eq!(
            cache.get(s).expect("hit").user.nick_name.as_deref(),
            Some("new")
        );
    }
}

#[test]
fn changes_elsewhere_are_forgotten() {
    let cache = SessionCache::new(Duration::from_secs(60));
    cache.put(&session("s1", "u"), &user("u", "a"), cache.ticket());
    cache.put(&session("s2", "v"), &user("v", "b"), cache.ticket());
    cache.forget_user("u");
    assert!(cache.get("s1").is_none(), "its user is read again");
    assert!(cache.get("s2").is_some());
    cache.clear();
    assert!(cache.get("s2").is_none());
}

#[test]
fn a_read_begun_before_a_logout_does_not_put_the_session_back() {
    let cache = SessionCache::new(Duration::from_secs(60));
    let before = cache.ticket();
    cache.forget_session("s");
    cache.put(&session("s", "u"), &user("u", "a"), before);
    assert!(cache.get("s").is_none(), "the session that ended stays out");
    cache.put(&session("s", "u"), &user("u", "a"), cache.ticket());
    assert!(
        cache.get("s").is_some(),
        "a read begun afterwards may fill it"
    );
}

#[test]
fn a_change_heard_from_elsewhere_also_refuses_reads_begun_before() {
    let cache = SessionCache::new(Duration::from_secs(60));
    for forget in [
        |c: &SessionCache| c.apply_change(&StoreChange::SessionEnded("s".into())),
        |c: &SessionCache| c.apply_change(&StoreChange::UserChanged("u".into())),
        |c: &SessionCache| c.apply_change(&StoreChange::Missed),
    ] {
        let before = cache.ticket();
        forget(&cache);
        cache.put(&session("s", "u"), &user("u", "a"), before);
        assert!(cache.get("s").is_none());
    }
}

#[test]
fn memory_is_bounded() {
    let cache = SessionCache::new(Duration::from_secs(60)).with_capacity(500);
    for i in 0..(500 + 100) {
        cache.put(
            &session(&format!("s{i}"), &format!("u{i}")),
            &user(&format!("u{i}"), "a"),
            cache.ticket(),
        );
    }
    let entries = cache.lock();
    assert!(entries.sessions.len() == 500 && entries.users.len() == 500);
    assert_eq!(
        entries.sweeps, 1,
        "a hundred puts into a full cache walk it once, not a hundred times"
    );
}
