//! The middlewares every answer of the public listener goes through: the request id, the
//! charset of JSON answers, and the count of requests by route.

use actix_web::{middleware, web};

use crate::state::AppState;

/// The longest request id taken from a client.
const MAX_REQUEST_ID_LEN: usize = 128;

/// `X-Request-Id`: the client's, when it is sane (1 to 128 of letters, digits, `-`, `_`, `.`,
/// `:`), else a new one; put on the request (so the log line carries it) and echoed in the
/// answer.
pub(crate) async fn request_id(
    mut req: actix_web::dev::ServiceRequest,
    next: middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use actix_web::http::header::{HeaderName, HeaderValue};
    let name = HeaderName::from_static("x-request-id");
    let given = req
        .headers()
        .get(&name)
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            (1..=MAX_REQUEST_ID_LEN).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        })
        .map(str::to_owned);
    let id = given.unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    let value = HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
    req.headers_mut().insert(name.clone(), value.clone());
    let mut res = next.call(req).await?;
    res.headers_mut().insert(name, value);
    Ok(res)
}

/// Counts each answered request by route pattern (never the raw path: a client cannot add
/// series), method and status.
pub(crate) async fn count_request(
    req: actix_web::dev::ServiceRequest,
    next: middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = req.method().clone();
    let outcome = next.call(req).await;
    if let Some(state) = state {
        match &outcome {
            Ok(res) => state.metrics.http_request(
                res.request().match_pattern(),
                &method,
                res.status().as_u16(),
            ),
            Err(e) => state.metrics.http_request(
                None,
                &method,
                e.as_response_error().status_code().as_u16(),
            ),
        }
    }
    outcome
}

/// Every JSON answer says its charset (`application/json; charset=utf-8`), as the contract
/// asks; actix's `json()` leaves it out.
pub(crate) async fn json_in_utf8(
    req: actix_web::dev::ServiceRequest,
    next: middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use actix_web::http::header::{CONTENT_TYPE, HeaderValue};
    let mut res = next.call(req).await?;
    if res
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/json")
    {
        res.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    Ok(res)
}
