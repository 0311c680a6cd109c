-- Several instances on one database (behind a proxy) must count against the same limits and
-- learn of each other's changes.

-- Rate-limit windows (sign-in failures, e-mails asked for) by key: what one instance counts,
-- every instance refuses. A window ends at `expires_at`; ended windows are swept as new
-- attempts are counted.
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    attempts INTEGER NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX rate_limits_expiry ON rate_limits (expires_at);

-- A counter per kind of cached figure (the catalogue, booking rules, ratings, machine-hours),
-- moved on inside each transaction that changes what it caches; every instance polls these
-- rows and drops the figures whose counter moved.
CREATE TABLE cache_versions (
    name TEXT PRIMARY KEY,
    version BIGINT NOT NULL
);
