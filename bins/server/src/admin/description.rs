//! The admin API's own OpenAPI description (`GET /admin/openapi.json` on the admin listener):
//! kept apart from the public one, which front ends generate clients from.

use serde_json::{Value, json};

fn error(status: u16, kinds: &str) -> Value {
    json!({
        "description": format!("{status}: {kinds}"),
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

fn id_param(name: &str, what: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": what,
           "schema": {"type": "string"}})
}

fn ok(description: &str, schema: &str) -> Value {
    json!({"description": description,
           "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
}

/// The document, as JSON text.
pub fn document_json() -> String {
    let unauthorized = error(401, "admin_unauthorized");
    let not_found = error(404, "not_found");
    let invalid = error(400, "invalid_request");
    let user = id_param("id", "The account's public id");
    let doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "wxlogin admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "On ADMIN_BIND_ADDR only, never the public listener. Every request \
                with `Authorization: Bearer <admin key>` (ADMIN_API_KEYS_FILE). Every change is \
                recorded in the audit log with the key's fingerprint."
        },
        "security": [{"adminKey": []}],
        "paths": {
            "/admin/users": {"get": {
                "summary": "Find the account of an identity (for support); the openid is never answered",
                "parameters": [
                    {"name": "appid", "in": "query", "required": true, "schema": {"type": "string"}},
                    {"name": "openid", "in": "query", "required": true, "schema": {"type": "string"}}
                ],
                "responses": {"200": ok("The account", "AdminUser"), "400": invalid, "401": unauthorized, "404": not_found}
            }},
            "/admin/users/{id}": {
                "get": {"summary": "An account, its ban included", "parameters": [user],
                        "responses": {"200": ok("The account", "AdminUser"), "401": unauthorized, "404": not_found}},
                "delete": {"summary": "Delete the account and everything attached, as its owner's deletion does",
                           "parameters": [user],
                           "responses": {"204": {"description": "Deleted"}, "401": unauthorized, "404": not_found}}
            },
            "/admin/users/{id}/ban": {"post": {
                "summary": "Ban: every session ends on every instance within a second; logins and refreshes answer 403 account_disabled",
                "parameters": [user],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["reason"],
                    "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 500}}}}}},
                "responses": {"200": ok("The account, disabled", "AdminUser"), "400": invalid, "401": unauthorized, "404": not_found}
            }},
            "/admin/users/{id}/unban": {"post": {
                "summary": "Lift the ban: the account may log in again (its ended sessions stay ended)",
                "parameters": [user],
                "responses": {"200": ok("The account, active", "AdminUser"), "401": unauthorized, "404": not_found}
            }},
            "/admin/users/{id}/sessions": {"get": {
                "summary": "The account's sessions, newest first (at most 500)",
                "parameters": [user],
                "responses": {"200": ok("The sessions", "Sessions"), "401": unauthorized}
            }},
            "/admin/sessions/{sid}": {"delete": {
                "summary": "End one session on every instance",
                "parameters": [id_param("sid", "The session id")],
                "responses": {"204": {"description": "Ended"}, "401": unauthorized, "404": not_found}
            }},
            "/admin/audit": {"get": {
                "summary": "The audit log, oldest first, paged by cursor",
                "parameters": [
                    {"name": "user", "in": "query", "schema": {"type": "string"}},
                    {"name": "kind", "in": "query", "schema": {"$ref": "#/components/schemas/AuditKind"}},
                    {"name": "after", "in": "query", "description": "The `next` of the previous page", "schema": {"type": "integer", "minimum": 0}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}}
                ],
                "responses": {"200": ok("A page of entries", "AuditPage"), "400": invalid, "401": unauthorized}
            }},
            "/admin/webhooks/failed": {"get": {
                "summary": "Webhook deliveries given up after 24 hours of failures (or whose endpoint left WEBHOOKS_FILE), oldest first",
                "parameters": [
                    {"name": "after", "in": "query", "description": "The `next` of the previous page", "schema": {"type": "integer", "minimum": 0}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}}
                ],
                "responses": {"200": ok("A page of failed deliveries", "FailedWebhooks"), "400": invalid, "401": unauthorized}
            }},
            "/admin/webhooks/failed/retry": {"post": {
                "summary": "Put every failed delivery back, for another 24 hours of attempts",
                "responses": {"200": ok("How many", "Retried"), "401": unauthorized}
            }},
            "/admin/webhooks/failed/{id}/retry": {"post": {
                "summary": "Put one failed delivery back, for another 24 hours of attempts",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                "responses": {"200": ok("How many (1)", "Retried"), "401": unauthorized, "404": not_found}
            }},
            "/admin/openapi.json": {"get": {
                "summary": "This description",
                "responses": {"200": {"description": "OpenAPI 3.1"}, "401": unauthorized}
            }}
        },
        "components": {
            "securitySchemes": {"adminKey": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["code", "error", "msg"], "properties": {
                    "code": {"type": "integer"},
                    "error": {"type": "string", "enum": ["admin_unauthorized", "invalid_request", "not_found", "method_not_allowed", "unavailable", "internal"]},
                    "msg": {"type": "string"}}},
                "AdminUser": {"type": "object", "required": ["id", "apps", "createdAt", "updatedAt", "status"], "properties": {
                    "id": {"type": "string"}, "nickName": {"type": ["string", "null"]},
                    "avatarUrl": {"type": ["string", "null"]}, "gender": {"type": ["integer", "null"]},
                    "apps": {"type": "array", "items": {"type": "string"}},
                    "createdAt": {"type": "string", "format": "date-time"},
                    "updatedAt": {"type": "string", "format": "date-time"},
                    "status": {"type": "string", "enum": ["active", "disabled"]},
                    "disabledAt": {"type": ["string", "null"], "format": "date-time"},
                    "disabledReason": {"type": ["string", "null"]}}},
                "Sessions": {"type": "object", "required": ["sessions"], "properties": {
                    "sessions": {"type": "array", "items": {"type": "object", "properties": {
                        "id": {"type": "string"}, "appid": {"type": "string"},
                        "createdAt": {"type": "string", "format": "date-time"},
                        "expiresAt": {"type": "string", "format": "date-time"},
                        "lastRefreshedAt": {"type": ["string", "null"], "format": "date-time"},
                        "clientAddr": {"type": ["string", "null"]},
                        "state": {"type": "string", "enum": ["active", "expired", "revoked"]}}}}}},
                "FailedWebhooks": {"type": "object", "required": ["deliveries", "next"], "properties": {
                    "next": {"type": "integer", "description": "`after` for the next page"},
                    "deliveries": {"type": "array", "items": {"type": "object", "properties": {
                        "id": {"type": "integer"}, "messageId": {"type": "string", "description": "The webhook-id sent"},
                        "endpoint": {"type": "string", "description": "The endpoint's name, else scheme://host:port (never its path or query)"},
                        "eventType": {"type": "string"}, "userId": {"type": ["string", "null"]},
                        "createdAt": {"type": "string", "format": "date-time"},
                        "attempts": {"type": "integer"}, "lastError": {"type": ["string", "null"]},
                        "failedAt": {"type": ["string", "null"], "format": "date-time"}}}}}},
                "Retried": {"type": "object", "required": ["retried"], "properties": {"retried": {"type": "integer"}}},
                "AuditKind": {"type": "string", "enum": wxlogin_domain::AuditKind::ALL.map(|k| k.as_str())},
                "AuditPage": {"type": "object", "required": ["entries", "next"], "properties": {
                    "next": {"type": "integer", "description": "`after` for the next page"},
                    "entries": {"type": "array", "items": {"type": "object", "properties": {
                        "id": {"type": "integer"}, "at": {"type": "string", "format": "date-time"},
                        "kind": {"$ref": "#/components/schemas/AuditKind"},
                        "userId": {"type": ["string", "null"]}, "appid": {"type": ["string", "null"]},
                        "sessionId": {"type": ["string", "null"]}, "clientAddr": {"type": ["string", "null"]},
                        "outcome": {"type": "string"}, "actor": {"type": ["string", "null"]}}}}}}
            }
        }
    });
    doc.to_string()
}
