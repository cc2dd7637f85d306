//! The endpoints file: what is taken, what is refused and why, and that no secret shows.
#![allow(clippy::unwrap_used)]

use super::*;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SECRET_BODY: &str = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn one(url: &str, secret: &str, events: &str) -> String {
    format!("[[webhook]]\nurl = \"{url}\"\nsecret = \"{secret}\"\nevents = {events}\n")
}

fn refused(text: &str) -> ConfigError {
    let error = parse_endpoints(text).unwrap_err();
    let shown = full_chain(&error);
    assert!(!shown.contains(SECRET_BODY), "secret leaked: {shown}");
    error
}

fn full_chain(error: &dyn std::error::Error) -> String {
    let mut shown = format!("{error} / {error:?}");
    let mut source = error.source();
    while let Some(cause) = source {
        shown.push_str(&format!(" / {cause}"));
        source = cause.source();
    }
    shown
}

#[test]
fn two_endpoints_are_read_with_their_events() {
    let text = one(
        "https://hooks.example.com/wx?token=abc",
        SECRET,
        r#"["user.created", "user.deleted"]"#,
    ) + &one("http://127.0.0.1:9000/in", SECRET, r#"["session.revoked"]"#);

    let endpoints = parse_endpoints(&text).unwrap();

    assert_eq!(endpoints.len(), 2);
    assert!(endpoints[0].wants("user.created"));
    assert!(endpoints[0].wants("user.deleted"));
    assert!(!endpoints[0].wants("session.revoked"));
    assert!(endpoints[1].wants("session.revoked"));
    assert!(endpoints[0].key().starts_with("ep_"));
    assert!(
        !endpoints[0].key().contains("token"),
        "no token in the database"
    );
    let again = parse_endpoints(&text).unwrap();
    assert_eq!(
        endpoints[0].key(),
        again[0].key(),
        "the same URL, the same key"
    );
    assert_ne!(endpoints[0].key(), endpoints[1].key());
    assert_eq!(endpoints[0].label(), "https://hooks.example.com:443");
}

#[test]
fn a_name_is_how_logs_call_it_and_a_bad_name_is_refused() {
    let named = format!(
        "[[webhook]]\nname = \"crm\"\n{}",
        &one("https://a.example/x", SECRET, r#"["user.created"]"#)["[[webhook]]\n".len()..]
    );
    assert_eq!(parse_endpoints(&named).unwrap()[0].label(), "crm");
    let empty = named.replace("\"crm\"", "\"\"");
    assert!(matches!(
        refused(&empty),
        ConfigError::BadName { webhook: 1 }
    ));
}

#[test]
fn a_secret_where_the_events_belong_is_not_quoted_in_the_error() {
    let text = format!(
        "[[webhook]]\nurl = \"https://a.example/\"\nsecret = \"{SECRET}\"\nevents = \"{SECRET}\"\n"
    );
    let error = refused(&text);
    assert!(matches!(error, ConfigError::Syntax { .. }), "{error:?}");
    assert!(
        !format!("{error} {error:?}").contains(SECRET_BODY),
        "{error}"
    );
}

#[test]
fn a_file_without_webhooks_configures_none() {
    assert!(parse_endpoints("").unwrap().is_empty());
}

#[test]
fn the_shown_url_has_no_path_userinfo_or_query_but_always_a_port() {
    let text = one(
        "https://user:pass@hooks.example.com/wx/in?token=abc#frag",
        SECRET,
        r#"["user.created"]"#,
    ) + &one("http://[::1]:8080", SECRET, r#"["user.created"]"#);

    let endpoints = parse_endpoints(&text).unwrap();

    assert_eq!(endpoints[0].shown_url(), "https://hooks.example.com:443");
    assert_eq!(endpoints[1].shown_url(), "http://[::1]:8080");
}

#[test]
fn debug_of_an_endpoint_shows_neither_secret_nor_query() {
    let text = one(
        "https://h.example/x?token=abc",
        SECRET,
        r#"["user.created"]"#,
    );

    let shown = format!("{:?}", parse_endpoints(&text).unwrap()[0]);

    assert!(!shown.contains(SECRET_BODY));
    assert!(!shown.contains("token=abc"));
}

#[test]
fn a_url_that_does_not_parse_is_refused() {
    let error = refused(&one("not a url", SECRET, r#"["user.created"]"#));

    assert!(
        matches!(error, ConfigError::BadUrl { webhook: 1, .. }),
        "{error:?}"
    );
}

#[test]
fn a_url_that_is_not_http_or_https_is_refused() {
    let error = refused(&one("ftp://h.example/x", SECRET, r#"["user.created"]"#));

    assert!(
        matches!(&error, ConfigError::UnsupportedScheme { webhook: 1, scheme } if scheme == "ftp"),
        "{error:?}"
    );
}

#[test]
fn a_secret_without_the_prefix_is_refused_without_being_shown() {
    let error = refused(&one(
        "https://h.example/",
        SECRET_BODY,
        r#"["user.created"]"#,
    ));

    assert!(
        matches!(
            error,
            ConfigError::BadSecret {
                webhook: 1,
                reason: SecretError::MissingPrefix
            }
        ),
        "{error:?}"
    );
}

#[test]
fn a_short_secret_is_refused_without_being_shown() {
    let error = refused(&one(
        "https://h.example/",
        "whsec_c2hvcnQ=",
        r#"["user.created"]"#,
    ));

    assert!(
        matches!(
            error,
            ConfigError::BadSecret {
                webhook: 1,
                reason: SecretError::WrongLength { bytes: 5 }
            }
        ),
        "{error:?}"
    );
}

#[test]
fn an_empty_event_list_is_refused() {
    let error = refused(&one("https://h.example/", SECRET, "[]"));

    assert!(
        matches!(error, ConfigError::NoEvents { webhook: 1 }),
        "{error:?}"
    );
}

#[test]
fn an_unknown_event_is_refused_by_name() {
    let text = one("https://a.example/", SECRET, r#"["user.created"]"#)
        + &one(
            "https://b.example/",
            SECRET,
            r#"["user.created", "user.renamed"]"#,
        );

    let error = refused(&text);

    assert!(
        matches!(&error, ConfigError::UnknownEvent { webhook: 2, event } if event == "user.renamed"),
        "{error:?}"
    );
    assert!(error.to_string().contains("`user.renamed`"));
}

#[test]
fn two_endpoints_with_the_same_url_are_refused() {
    let text = one("https://a.example/in?t=1", SECRET, r#"["user.created"]"#)
        + &one("https://a.example/in?t=1", SECRET, r#"["user.deleted"]"#);

    let error = refused(&text);

    assert!(
        matches!(&error, ConfigError::DuplicateUrl { webhook: 2, first: 1, url } if url == "https://a.example:443"),
        "{error:?}"
    );
    assert!(!error.to_string().contains("t=1"));
}

#[test]
fn an_unknown_key_is_refused_with_its_line() {
    let text = one("https://a.example/", SECRET, r#"["user.created"]"#) + "retries = 3\n";

    let error = refused(&text);

    assert!(
        matches!(&error, ConfigError::Syntax { line: 5, message } if message.contains("retries")),
        "{error:?}"
    );
}

#[test]
fn an_unknown_top_level_table_is_refused() {
    let error = refused("[[hook]]\nurl = \"https://a.example/\"\n");

    assert!(
        matches!(error, ConfigError::Syntax { line: 1, .. }),
        "{error:?}"
    );
}

#[test]
fn a_missing_secret_is_refused() {
    let error = refused("[[webhook]]\nurl = \"https://a.example/\"\nevents = [\"user.created\"]\n");

    assert!(
        matches!(&error, ConfigError::Syntax { message, .. } if message.contains("secret")),
        "{error:?}"
    );
}

#[test]
fn a_toml_error_on_the_secret_line_does_not_quote_it() {
    let text = format!(
        "[[webhook]]\nurl = \"https://a.example/\"\nsecret = \"{SECRET}\" oops\nevents = [\"user.created\"]\n"
    );

    let error = refused(&text);

    assert!(
        matches!(error, ConfigError::Syntax { line: 3, .. }),
        "{error:?}"
    );
}

#[test]
fn a_missing_file_names_the_path() {
    let path = Path::new("/nonexistent/wxlogin-webhooks.toml");

    let error = load_endpoints(path).unwrap_err();

    assert!(matches!(error, ConfigError::Read { .. }));
    assert!(
        error
            .to_string()
            .contains("/nonexistent/wxlogin-webhooks.toml")
    );
}
