//! Authentication as an extractor: a handler that takes [`Authenticated`] is protected, one
//! that does not stays public.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use wxlogin_core::Caller;

use crate::error::{ApiError, ApiErrorKind};
use crate::state::AppState;

/// The caller of a protected route, after its token and session were checked.
pub struct Authenticated(pub Caller);

/// The token from `Authorization: Bearer <token>` or from a bare `Authorization: <token>`, as
/// existing mini-program front ends send it.
pub fn token_from_header(value: &str) -> Option<&str> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => value,
    };
    (!token.is_empty()).then_some(token)
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let client = state
            .as_ref()
            .and_then(|state| crate::client_addr::request_client(req, &state.trusted_proxies));
        let token = req
            .headers()
            .get(AUTHORIZATION)
            .map(|v| v.to_str().map(|s| token_from_header(s).map(str::to_owned)));
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::new(ApiErrorKind::Internal, "no state"))?;
            let token = match token {
                None | Some(Ok(None)) => {
                    return Err(ApiErrorKind::NotLoggedIn.error());
                }
                Some(Err(_)) => {
                    return Err(ApiError::new(
                        ApiErrorKind::TokenInvalid,
                        "the login token is invalid; log in again",
                    ));
                }
                Some(Ok(Some(token))) => token,
            };
            let mut caller = state.service.authenticate(&token).await?;
            caller.client = client;
            Ok(Self(caller))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::token_from_header;

    #[test]
    fn bearer_and_bare_tokens_are_both_read() {
        assert_eq!(token_from_header("Bearer abc.def.ghi"), Some("abc.def.ghi"));
        assert_eq!(token_from_header("bearer   abc"), Some("abc"));
        assert_eq!(token_from_header("abc.def.ghi"), Some("abc.def.ghi"));
        assert_eq!(token_from_header("  abc  "), Some("abc"));
    }

    #[test]
    fn an_empty_header_has_no_token() {
        assert_eq!(token_from_header(""), None);
        assert_eq!(token_from_header("Bearer "), None);
        assert_eq!(token_from_header("Bearer"), None);
    }
}
