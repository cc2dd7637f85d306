/// What a verified access token says: who (`sub`), which session (`sid`), which mini program
/// (`appid`), and when (`iat`, `nbf`, `exp`, Unix seconds). Nothing in it is secret.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Claims {
    /// The account's public id: the user, as other services should key their data.
    pub sub: String,
    /// The session the token belongs to; the revocation feed names sessions by it.
    pub sid: String,
    /// The mini program the user logged in through.
    pub appid: String,
    /// When the token was issued.
    pub iat: u64,
    /// Not valid before (`iat` when the server did not say otherwise).
    pub nbf: u64,
    /// When the token expires.
    pub exp: u64,
}

impl Claims {
    /// The user's public id (the `sub` claim).
    pub fn user_id(&self) -> &str {
        &self.sub
    }
}
