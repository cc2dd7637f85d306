//! An actix-web service (say, orders) whose handlers take the caller as a verified argument.
//!
//! `cargo run -p wxlogin-verifier --example actix -- https://login.example.com` (wxlogin's base
//! URL), then `curl -H "Authorization: Bearer $TOKEN" localhost:8090/orders`.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{App, FromRequest, HttpRequest, HttpResponse, HttpServer, ResponseError, web};
use wxlogin_verifier::{Claims, Verifier, VerifierConfig, VerifyError};

/// The caller, as its access token says. A handler taking `User` runs only for a valid token;
/// `Option<User>` would silently turn a bad token into "anonymous", so there is none.
struct User(Claims);

/// Why a request got no `User`: answered with the contract's error envelope.
#[derive(Debug)]
enum AuthError {
    NoToken,
    Token(VerifyError),
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthError::NoToken => f.write_str("no token"),
            AuthError::Token(e) => e.fmt(f),
        }
    }
}

impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            AuthError::NoToken => StatusCode::UNAUTHORIZED,
            AuthError::Token(e) => {
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNAUTHORIZED)
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        let kind = match self {
            AuthError::NoToken => "not_logged_in",
            AuthError::Token(e) => e.kind(),
        };
        HttpResponse::build(self.status_code()).json(serde_json::json!({
            "code": self.status_code().as_u16(),
            "error": kind,
            "msg": self.to_string(),
        }))
    }
}

/// The token from `Authorization`: `Bearer <token>` or the bare token, as the contract allows.
fn token_of(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?.trim();
    let token = value.strip_prefix("Bearer ").unwrap_or(value).trim();
    (!token.is_empty()).then(|| token.to_owned())
}

impl FromRequest for User {
    type Error = AuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verifier = req.app_data::<web::Data<Verifier>>().cloned();
        let token = token_of(req);
        Box::pin(async move {
            let token = token.ok_or(AuthError::NoToken)?;
            let Some(verifier) = verifier else {
                // A wiring mistake of the service: never a reason to let the request through.
                return Err(AuthError::NoToken);
            };
            verifier
                .verify(&token)
                .await
                .map(User)
                .map_err(AuthError::Token)
        })
    }
}

async fn my_orders(User(claims): User) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "user": claims.sub,
        "appid": claims.appid,
        "orders": [],
    }))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let config = VerifierConfig::new(&base, "wxlogin", "wxlogin-api");
    let verifier = Verifier::new(config).map_err(std::io::Error::other)?;
    if let Err(e) = verifier.warm_up().await {
        eprintln!("wxlogin's keys are not reachable yet ({e}); they will be fetched on first use");
    }
    // Kept alive for as long as the server runs; dropping it stops following.
    let _revocations = verifier
        .follow_revocations()
        .map_err(std::io::Error::other)?;

    let verifier = web::Data::new(verifier);
    HttpServer::new(move || {
        App::new()
            .app_data(verifier.clone())
            .route("/orders", web::get().to(my_orders))
    })
    .bind(("127.0.0.1", 8090))?
    .run()
    .await
}
