CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    openid TEXT NOT NULL UNIQUE,
    unionid TEXT,
    nick_name TEXT,
    avatar_url TEXT,
    gender INTEGER,
    phone_number TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    session_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE INDEX sessions_user_id_created_at ON sessions (user_id, created_at);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
