-- Users and roles; rate-limit overrides per org and per key.
CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    email       TEXT NOT NULL,           -- as given
    email_key   TEXT NOT NULL,           -- lower-cased: uniqueness ignores case
    name        TEXT,
    role        TEXT NOT NULL,           -- readonly | train | configure | admin
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_email_per_org ON users(org_id, email_key);
CREATE INDEX users_by_org ON users(org_id, created_at);

-- A key may belong to a user; removing the user revokes the key first, then this clears.
ALTER TABLE api_keys ADD COLUMN user_id TEXT REFERENCES users(id) ON DELETE SET NULL;
CREATE INDEX api_keys_by_user ON api_keys(user_id);

-- JSON objects {"write": {"per_minute": 3, "burst": 3}, ...}; NULL means no override.
ALTER TABLE api_keys ADD COLUMN rate_limits TEXT;
ALTER TABLE orgs ADD COLUMN rate_limits TEXT;
