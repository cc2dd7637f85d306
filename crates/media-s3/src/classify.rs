//! object_store's errors, sorted into the port's: could the store be reached or not.

use std::error::Error as _;

use object_store::client::{HttpError, HttpErrorKind};
use wxlogin_domain::{Cause, MediaError};

/// What went wrong, as [`MediaError`] says it: no connection, a timeout or a dropped
/// connection is [`MediaError::Unavailable`] (worth trying again later, a 503 for the
/// caller); everything else the store answered (a refused key, a missing bucket, a 5xx that
/// outlived the retries) is [`MediaError::Failed`].
///
/// Not found is no error for `get` and `delete`: they match it before calling this.
pub(crate) fn classify(error: object_store::Error) -> MediaError {
    if is_unreachable(&error) {
        MediaError::Unavailable(Cause::new(error))
    } else {
        MediaError::Failed(Cause::new(error))
    }
}

/// Whether the error's chain holds a transport failure: object_store wraps reqwest's error in
/// an [`HttpError`] whose kind says what happened, a few levels down.
fn is_unreachable(error: &object_store::Error) -> bool {
    let mut next = error.source();
    while let Some(cause) = next {
        if let Some(http) = cause.downcast_ref::<HttpError>() {
            return matches!(
                http.kind(),
                HttpErrorKind::Connect
                    | HttpErrorKind::Timeout
                    | HttpErrorKind::Request
                    | HttpErrorKind::Interrupted
            );
        }
        next = cause.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generic(source: impl std::error::Error + Send + Sync + 'static) -> object_store::Error {
        object_store::Error::Generic {
            store: "S3",
            source: Box::new(source),
        }
    }

    #[test]
    fn a_connection_that_failed_or_timed_out_is_unavailable() {
        for kind in [
            HttpErrorKind::Connect,
            HttpErrorKind::Timeout,
            HttpErrorKind::Request,
            HttpErrorKind::Interrupted,
        ] {
            let error = generic(HttpError::new(kind, std::io::Error::other("refused")));
            assert!(
                matches!(classify(error), MediaError::Unavailable(_)),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn an_answer_the_store_gave_is_a_failure() {
        let undecodable = generic(HttpError::new(
            HttpErrorKind::Decode,
            std::io::Error::other("bad xml"),
        ));
        assert!(matches!(classify(undecodable), MediaError::Failed(_)));
        let denied = object_store::Error::PermissionDenied {
            path: "avatars/a.jpg".into(),
            source: "403 AccessDenied".into(),
        };
        assert!(matches!(classify(denied), MediaError::Failed(_)));
    }
}
