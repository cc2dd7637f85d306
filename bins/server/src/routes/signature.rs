//! What a handler's arguments say about its route: whether it needs a login token (it takes
//! [`Authenticated`]), whether it reads a body (it takes `Json` or `Bytes`). The API
//! description takes its security and its token and body errors from here, so they follow the
//! handlers' signatures instead of restating them.

use actix_web::{FromRequest, Handler, HttpRequest, web};

use crate::auth::Authenticated;

/// What one extractor brings to a route.
pub(crate) trait Extractor {
    /// Taking it makes the route need a login token.
    const NEEDS_TOKEN: bool = false;
    /// Taking it makes the route read the request body.
    const READS_BODY: bool = false;
}

impl Extractor for Authenticated {
    const NEEDS_TOKEN: bool = true;
}
impl<T> Extractor for web::Json<T> {
    const READS_BODY: bool = true;
}
impl Extractor for web::Bytes {
    const READS_BODY: bool = true;
}
impl Extractor for actix_multipart::Multipart {
    const READS_BODY: bool = true;
}
impl<T: ?Sized> Extractor for web::Data<T> {}
impl<T> Extractor for web::Path<T> {}
impl<T> Extractor for web::Query<T> {}
impl Extractor for HttpRequest {}

/// A handler's whole argument list: what any of its extractors brings.
pub(crate) trait Arguments {
    const NEEDS_TOKEN: bool;
    const READS_BODY: bool;
}

macro_rules! arguments {
    ($($arg:ident),*) => {
        impl<$($arg: Extractor),*> Arguments for ($($arg,)*) {
            const NEEDS_TOKEN: bool = false $(|| $arg::NEEDS_TOKEN)*;
            const READS_BODY: bool = false $(|| $arg::READS_BODY)*;
        }
    };
}
arguments!();
arguments!(A);
arguments!(A, B);
arguments!(A, B, C);
arguments!(A, B, C, D);
arguments!(A, B, C, D, E);

/// What a route's handler needs, read from its signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    /// It takes a login token (and so answers the token's 401s).
    pub needs_token: bool,
    /// It reads a body (and so answers `invalid_request` and `payload_too_large`).
    pub reads_body: bool,
}

/// The signature of `handler`, as actix sees its arguments.
pub(crate) fn signature_of<F, Args>(_handler: &F) -> Signature
where
    F: Handler<Args>,
    Args: FromRequest + Arguments,
{
    Signature {
        needs_token: Args::NEEDS_TOKEN,
        reads_body: Args::READS_BODY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::{account, health, login, push};

    #[test]
    fn a_handler_taking_the_caller_needs_a_token() {
        assert!(signature_of(&account::me).needs_token);
        assert!(signature_of(&login::logout).needs_token);
        assert!(!signature_of(&login::login).needs_token);
        assert!(!signature_of(&push::push).needs_token);
    }

    #[test]
    fn a_handler_taking_json_or_bytes_reads_a_body() {
        assert!(signature_of(&login::login).reads_body);
        assert!(signature_of(&push::push).reads_body);
        assert!(!signature_of(&account::me).reads_body);
        assert!(!signature_of(&health::healthz).reads_body);
        assert!(!signature_of(&push::push_url_check).reads_body);
    }
}
