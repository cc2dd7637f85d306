//! Talking to a test server over real HTTP: any request, and the calls of the API the suites
//! make most.

use serde_json::Value;

use crate::{Reply, TestApp};

/// A login that succeeded: its account id, access token and refresh token.
#[derive(Debug, Clone)]
pub struct Login {
    /// The account's public id.
    pub user: String,
    /// The access token.
    pub token: String,
    /// The refresh token.
    pub refresh: String,
}

impl TestApp {
    /// `POST /api/login` with `code`, asserted to succeed.
    pub async fn log_in(&self, code: &str) -> Login {
        let reply = self.login(code).await;
        assert_eq!(reply.status, 200, "login {code}: {}", reply.text);
        let text = |field: &Value| field.as_str().expect("a string").to_owned();
        Login {
            user: text(&reply.json["userInfo"]["id"]),
            token: text(&reply.json["token"]),
            refresh: text(&reply.json["refreshToken"]),
        }
    }

    /// Any request: method, path, `Authorization` value, raw body with a JSON content type.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<&str>,
    ) -> Reply {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        self.request_with(method, path, &headers, body).await
    }

    /// `POST /api/login` with `{"code": code}`.
    pub async fn login(&self, code: &str) -> Reply {
        self.request(
            "POST",
            "/api/login",
            None,
            Some(&serde_json::json!({ "code": code }).to_string()),
        )
        .await
    }

    /// `POST /api/login` with `{"code": code, "appid": appid}`.
    pub async fn login_in(&self, appid: &str, code: &str) -> Reply {
        self.request(
            "POST",
            "/api/login",
            None,
            Some(&serde_json::json!({ "code": code, "appid": appid }).to_string()),
        )
        .await
    }

    /// Logs in through `appid` and returns the token, failing the test if login fails.
    pub async fn token_in(&self, appid: &str, code: &str) -> String {
        let reply = self.login_in(appid, code).await;
        assert_eq!(reply.status, 200, "login {code} in {appid}: {}", reply.text);
        reply.json["token"].as_str().expect("token").to_owned()
    }

    /// Any request, with extra headers; a body is sent as JSON.
    pub async fn request_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Reply {
        let mut headers = headers.to_vec();
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        self.send(method, path, &headers, body.map(|b| b.as_bytes().to_vec()))
            .await
    }

    /// A request with a body of any bytes (a multipart upload), answered as a [`Reply`].
    pub async fn request_bytes(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        self.send(method, path, headers, Some(body)).await
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Reply {
        self.send_at(&self.base, method, path, headers, body).await
    }

    /// A request to the admin listener (`ADMIN_BIND_ADDR`) with `key` as its bearer, if any.
    pub async fn admin_request(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&str>,
    ) -> Reply {
        let base = self.admin.clone().expect("the admin listener is on");
        let auth = key.map(|key| format!("Bearer {key}"));
        let mut headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        self.send_at(
            &base,
            method,
            path,
            &headers,
            body.map(|b| b.as_bytes().to_vec()),
        )
        .await
    }

    async fn send_at(
        &self,
        base: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Reply {
        let (status, bytes, headers) = self.exchange_at(base, method, path, headers, body).await;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Reply {
            status,
            content_type: headers.get("content-type").cloned().unwrap_or_default(),
            json: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
            headers,
        }
    }

    /// A request whose answer is kept as bytes (an image): status, body and headers (names
    /// in lower case).
    pub async fn request_raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (u16, Vec<u8>, std::collections::HashMap<String, String>) {
        self.exchange_at(&self.base, method, path, headers, None)
            .await
    }

    async fn exchange_at(
        &self,
        base: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> (u16, Vec<u8>, std::collections::HashMap<String, String>) {
        let method = actix_web::http::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, format!("{base}{path}"));
        for (name, value) in headers {
            req = req.insert_header((*name, *value));
        }
        let mut res = match body {
            Some(body) => req.send_body(body).await.expect("request sent"),
            None => req.send().await.expect("request sent"),
        };
        let bytes = res.body().limit(16 << 20).await.expect("body read");
        let headers = res
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect();
        (res.status().as_u16(), bytes.to_vec(), headers)
    }

    /// The text at `path` of another listener of this server (`/metrics`), by GET.
    pub async fn request_raw_at(&self, base: &str, path: &str) -> String {
        let mut reply = self
            .client
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("request sent");
        assert_eq!(reply.status().as_u16(), 200, "{path}");
        String::from_utf8(reply.body().await.expect("body").to_vec()).expect("UTF-8")
    }

    /// Logs in and returns the token, failing the test if login fails.
    pub async fn token(&self, code: &str) -> String {
        let reply = self.login(code).await;
        assert_eq!(reply.status, 200, "login {code}: {}", reply.text);
        reply.json["token"].as_str().expect("token").to_owned()
    }

    /// `GET /api/me` with `Authorization: Bearer <token>`.
    pub async fn me(&self, token: &str) -> Reply {
        self.request("GET", "/api/me", Some(&format!("Bearer {token}")), None)
            .await
    }

    /// `PUT /api/me` with a raw JSON body.
    pub async fn put_me(&self, token: &str, body: &str) -> Reply {
        self.request(
            "PUT",
            "/api/me",
            Some(&format!("Bearer {token}")),
            Some(body),
        )
        .await
    }

    /// `POST path` with a JSON body, as the caller holding `token`.
    pub async fn post(&self, path: &str, token: &str, body: &serde_json::Value) -> Reply {
        self.request(
            "POST",
            path,
            Some(&format!("Bearer {token}")),
            Some(&body.to_string()),
        )
        .await
    }

    /// `POST /api/logout`.
    pub async fn logout(&self, token: &str) -> Reply {
        self.request(
            "POST",
            "/api/logout",
            Some(&format!("Bearer {token}")),
            None,
        )
        .await
    }
}
