-- OpenID Connect logins under way: the state sent to the identity provider, with the nonce and
-- the PKCE verifier it must be answered with, and the page to return to. A row lives until the
-- callback uses it (or 10 minutes).
CREATE TABLE oidc_logins (
    state           TEXT PRIMARY KEY,
    nonce           TEXT NOT NULL,
    verifier        TEXT NOT NULL,
    next_path       TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
