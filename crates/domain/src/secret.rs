//! Values that must never reach a log line or a response, wrapped so they cannot by accident.

macro_rules! redacted {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        ///
        /// `Debug` prints only the type name; read the value with `expose`.
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The value itself: call this only where it is sent or stored.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    )*};
}

redacted! {
    /// The mini program's app secret (`WECHAT_SECRET`).
    AppSecret,
    /// The key WeChat shares with us for one user's open data (base64 text of 16 bytes).
    SessionKey,
    /// A user's id within one mini program. Personal data: never sent to clients or logged.
    OpenId,
    /// A user's id across the apps of one Open Platform account. Personal data, like the openid.
    UnionId,
    /// A credential for WeChat's business APIs (`access_token`), shared by every caller of one app.
    AccessToken,
    /// The private half of a token signing key, as its algorithm serialises it (base64).
    PrivateKey,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_the_type_and_never_the_value() {
        let shown = format!(
            "{:?} {:?} {:?}",
            OpenId::new("oSECRET"),
            SessionKey::new("kSECRET"),
            AppSecret::new("aSECRET")
        );
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("OpenId(<redacted>)"), "{shown}");
    }
}
