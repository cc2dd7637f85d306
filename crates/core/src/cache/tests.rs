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
        disabled_at: None,
        disabled_reason: None,
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

/// A session and user the size of real ones: UUIDs, an appid, a nickname, an avatar URL.
fn real_sized(i: usize) -> (Session, User) {
    let user_id = format!("0193a5f2-7c1e-7d4b-9a3e-{i:012x}");
    let mut u = user(&user_id, "Olga Ivanova");
    u.avatar_url = Some(format!(
        "https://thirdwx.qlogo.cn/mmopen/vi_32/{i:0>64}/132"
    ));
    u.apps = vec!["wx00000000000000fe".into()];
    let mut s = session(&format!("0193a5f2-8d2f-7e5c-8b4f-{i:012x}"), &user_id);
    s.appid = "wx00000000000000fe".into();
    (s, u)
}

#[test]
fn memory_is_bounded_by_bytes() {
    let bytes = 200 * 1024;
    let cache = SessionCache::new(Duration::from_secs(60)).with_bytes(bytes);
    for i in 0..5_000 {
        let (s, u) = real_sized(i);
        cache.put(&s, &u, cache.ticket());
    }
    let stats = cache.stats();
    assert!(stats.bytes <= bytes, "{stats:?}");
    assert!(
        stats.entries > 100 && stats.entries < 1_000,
        "200 KiB holds a few hundred sessions and users: {stats:?}"
    );
}

#[test]
fn a_login_burst_does_not_push_out_the_sessions_in_use() {
    // Room for about 1,000 sessions with their users.
    let bytes = 1_000 * 900;
    let cache = SessionCache::new(Duration::from_secs(60)).with_bytes(bytes);
    // Full already of sessions that were only logged in (the morning's logins)...
    for i in 20_000..22_000 {
        let (s, u) = real_sized(i);
        cache.put(&s, &u, cache.ticket());
    }
    // ...when the people who use the mini program now log in and make requests.
    let in_use: Vec<(Session, User)> = (0..300).map(real_sized).collect();
    for (s, u) in &in_use {
        cache.put(s, u, cache.ticket());
        if cache.get(&s.id).is_none() {
            // Pushed out before its first request: read from the store, it comes back.
            cache.put(s, u, cache.ticket());
        }
    }
    for _ in 0..3 {
        for (s, _) in &in_use {
            assert!(cache.get(&s.id).is_some(), "used, so cached");
        }
    }
    // Ten times the cache of sessions that are logged in and never used again.
    for i in 1_000..11_000 {
        let (s, u) = real_sized(i);
        cache.put(&s, &u, cache.ticket());
    }
    let kept = in_use
        .iter()
        .filter(|(s, _)| cache.get(&s.id).is_some())
        .count();
    assert_eq!(kept, in_use.len(), "every session in use is still answered");
    assert!(cache.stats().bytes <= bytes);
}

#[test]
fn a_session_asked_for_again_soon_after_being_pushed_out_comes_back_to_stay() {
    let bytes = 1_000 * 900;
    let cache = SessionCache::new(Duration::from_secs(60)).with_bytes(bytes);
    // A cache full of sessions that were only logged in.
    for i in 1..3_000 {
        let (s, u) = real_sized(i);
        cache.put(&s, &u, cache.ticket());
    }
    let (s, u) = real_sized(0);
    cache.put(&s, &u, cache.ticket());
    // Pushed out of probation by more logins before it was asked for again...
    for i in 3_000..5_000 {
        let (s, u) = real_sized(i);
        cache.put(&s, &u, cache.ticket());
    }
    assert!(cache.get(&s.id).is_none());
    // ...read from the store once more, it is remembered and kept through the next burst.
    cache.put(&s, &u, cache.ticket());
    assert!(cache.get(&s.id).is_some());
    for i in 5_000..15_000 {
        let (s, u) = real_sized(i);
        cache.put(&s, &u, cache.ticket());
    }
    assert!(cache.get(&s.id).is_some());
}
