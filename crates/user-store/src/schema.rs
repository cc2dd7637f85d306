// The tables the migrations under migrations/ create.

diesel::table! {
    users (id) {
        id -> Text,
        unionid -> Nullable<Text>,
        nick_name -> Nullable<Text>,
        avatar_url -> Nullable<Text>,
        gender -> Nullable<Integer>,
        phone_number -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        nick_name_changed_at -> Nullable<BigInt>,
        avatar_url_changed_at -> Nullable<BigInt>,
        phone_number_changed_at -> Nullable<BigInt>,
        avatar_media -> Nullable<Text>,
        disabled_at -> Nullable<BigInt>,
        disabled_reason -> Nullable<Text>,
    }
}

diesel::table! {
    identities (appid, openid) {
        appid -> Text,
        openid -> Text,
        user_id -> Text,
        created_at -> BigInt,
    }
}

// The database's sessions also hold login_code and user_existed, which only the previous
// release writes (migration 2026-12-05-000001_login_codes_table); a later release drops them.
diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        session_key -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        appid -> Text,
        refresh_counter -> BigInt,
        refreshed_at -> Nullable<BigInt>,
        prior_refreshed_at -> Nullable<BigInt>,
        client_addr -> Nullable<Text>,
    }
}

diesel::table! {
    login_codes (session_id) {
        session_id -> Text,
        code -> Text,
        user_existed -> Bool,
        created_at -> BigInt,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(identities -> users (user_id));
diesel::joinable!(login_codes -> sessions (session_id));
diesel::allow_tables_to_appear_in_same_query!(users, sessions, identities, login_codes);

diesel::table! {
    access_tokens (appid) {
        appid -> Text,
        token -> Text,
        expires_at -> BigInt,
        lease_owner -> Nullable<Text>,
        lease_until -> BigInt,
        fetches -> BigInt,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        generation -> BigInt,
        algorithm -> Text,
        private_key -> Text,
        created_at -> BigInt,
        signs_from -> BigInt,
    }
}

// No primary key in the database (a session may end twice: revoked, then deleted); diesel
// wants one, and reads and deletes here never need it.
diesel::table! {
    ended_sessions (session_id, ended_at_ms) {
        session_id -> Text,
        ended_at_ms -> BigInt,
    }
}

diesel::table! {
    media_files (name) {
        name -> Text,
        user_id -> Text,
        created_at -> BigInt,
        attached_at -> Nullable<BigInt>,
        check_trace_id -> Nullable<Text>,
        rejected_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    media_verdicts (trace_id) {
        trace_id -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    media_objects (name) {
        name -> Text,
        content_type -> Text,
        bytes -> Binary,
        created_at -> BigInt,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> BigInt,
        kind -> Text,
        user_id -> Nullable<Text>,
        appid -> Nullable<Text>,
        session_id -> Nullable<Text>,
        client_addr -> Nullable<Text>,
        outcome -> Text,
        actor -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_outbox (id) {
        id -> BigInt,
        message_id -> Text,
        endpoint -> Text,
        user_id -> Nullable<Text>,
        event_type -> Text,
        payload -> Text,
        created_at -> BigInt,
        attempts -> Integer,
        next_at -> BigInt,
        leased_until -> BigInt,
        window_start -> BigInt,
        last_error -> Nullable<Text>,
        failed_at -> Nullable<BigInt>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(users, media_files);
