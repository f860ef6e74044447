-- Users with roles scoped to an organisation, sessions (cookie) and API tokens (bearer), login attempts
-- for throttling. Secrets are stored only as hashes: argon2 for passwords, SHA-256 for random tokens.

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    login           TEXT NOT NULL UNIQUE,
    full_name       TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('administrator', 'coordinator', 'executor', 'auditor')),
    ogrn            TEXT,
    password_hash   TEXT,
    oidc_subject    TEXT UNIQUE,
    active          INTEGER NOT NULL DEFAULT 1,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

CREATE TABLE sessions (
    token_hash      TEXT PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    csrf_token      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    ip              TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
    token_hash      TEXT PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    label           TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    revoked_at      TEXT
);

CREATE TABLE login_attempts (
    id              INTEGER PRIMARY KEY,
    login           TEXT NOT NULL,
    ip              TEXT,
    ok              INTEGER NOT NULL,
    at              TEXT NOT NULL
);
CREATE INDEX login_attempts_login ON login_attempts (login, at);
