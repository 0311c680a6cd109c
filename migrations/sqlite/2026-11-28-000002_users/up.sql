-- Users, organisations and sign-in (用户管理), the audit log, qualifications, violations and
-- bans, booking settings edited by instrument managers, and retiring instruments.

-- Host units are organisations (unit_id set); client organisations own no instruments.
CREATE TABLE organisations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    kind TEXT NOT NULL CHECK (kind IN ('university', 'institute', 'enterprise', 'hospital', 'testing_body', 'other')),
    credit_code TEXT UNIQUE CHECK (credit_code IS NULL OR length(credit_code) = 18),
    unit_id BIGINT UNIQUE REFERENCES units (id),
    status TEXT NOT NULL CHECK (status IN ('active', 'proposed')),
    created_at TIMESTAMP NOT NULL
);
INSERT INTO organisations (name, kind, unit_id, status, created_at)
    SELECT name, kind, id, 'active', created_at FROM units;

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE CHECK (length(email) BETWEEN 3 AND 254),
    password_hash TEXT NOT NULL,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
    phone TEXT NOT NULL DEFAULT '' CHECK (length(phone) <= 30),
    organisation_id BIGINT REFERENCES organisations (id),
    role TEXT NOT NULL CHECK (role IN ('researcher', 'instrument_manager', 'unit_admin', 'platform_admin')),
    unit_id BIGINT REFERENCES units (id),
    email_verified_at TIMESTAMP,
    disabled_at TIMESTAMP,
    -- Access tokens issued before this instant are refused (password change, disabling).
    tokens_valid_after TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    -- Staff belong to exactly one host unit; researchers and platform admins to none.
    CHECK ((role IN ('instrument_manager', 'unit_admin')) = (unit_id IS NOT NULL))
);
CREATE INDEX users_unit ON users (unit_id, id);
CREATE INDEX users_organisation ON users (organisation_id, id);

CREATE TABLE instrument_managers (
    instrument_id BIGINT NOT NULL REFERENCES instruments (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    PRIMARY KEY (instrument_id, user_id)
);
CREATE INDEX instrument_managers_user ON instrument_managers (user_id, instrument_id);

-- Single-use links sent by e-mail; only a hash of the token is kept.
CREATE TABLE user_tokens (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    purpose TEXT NOT NULL CHECK (purpose IN ('verify_email', 'password_reset')),
    token_hash TEXT NOT NULL UNIQUE,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX user_tokens_user ON user_tokens (user_id, purpose);

-- Refresh tokens rotate on every use; a family is one sign-in's chain of them.
CREATE TABLE refresh_tokens (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    family TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    expires_at TIMESTAMP NOT NULL,
    rotated_at TIMESTAMP,
    revoked_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    actor_id BIGINT REFERENCES users (id),
    action TEXT NOT NULL CHECK (length(action) BETWEEN 1 AND 60),
    target_type TEXT NOT NULL,
    target_id BIGINT,
    -- JSON snapshots; read whole, never queried inside.
    before_json TEXT,
    after_json TEXT,
    at TIMESTAMP NOT NULL
);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id, id);
CREATE INDEX audit_log_actor ON audit_log (actor_id, id);

CREATE TABLE qualifications (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    instrument_id BIGINT NOT NULL REFERENCES instruments (id),
    status TEXT NOT NULL CHECK (status IN ('applied', 'approved', 'refused', 'expired')),
    level TEXT CHECK (level IN ('supervised', 'independent')),
    note TEXT NOT NULL DEFAULT '' CHECK (length(note) <= 500),
    reason TEXT CHECK (length(reason) <= 500),
    expires_at TIMESTAMP,
    decided_by BIGINT REFERENCES users (id),
    decided_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    CHECK (status <> 'approved' OR level IS NOT NULL)
);
-- One open application or qualification per person and instrument (two tabs, double clicks).
CREATE UNIQUE INDEX qualifications_open ON qualifications (user_id, instrument_id) WHERE status IN ('applied', 'approved');
CREATE INDEX qualifications_instrument ON qualifications (instrument_id, status, id);
CREATE INDEX qualifications_expiry ON qualifications (status, expires_at);

CREATE TABLE violations (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL CHECK (kind IN ('no_show', 'late', 'left_early', 'overtime')),
    instrument_id BIGINT NOT NULL REFERENCES instruments (id),
    occurred_at TIMESTAMP NOT NULL,
    note TEXT NOT NULL DEFAULT '' CHECK (length(note) <= 500),
    recorded_by BIGINT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX violations_user ON violations (user_id, occurred_at);

CREATE TABLE bans (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    scope TEXT NOT NULL CHECK (scope IN ('all', 'unit', 'instrument')),
    unit_id BIGINT REFERENCES units (id),
    instrument_id BIGINT REFERENCES instruments (id),
    reason TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP NOT NULL,
    created_by BIGINT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    lifted_at TIMESTAMP,
    lifted_by BIGINT REFERENCES users (id),
    lift_reason TEXT CHECK (length(lift_reason) <= 500),
    CHECK ((scope = 'all' AND unit_id IS NULL AND instrument_id IS NULL)
        OR (scope = 'unit' AND unit_id IS NOT NULL AND instrument_id IS NULL)
        OR (scope = 'instrument' AND unit_id IS NULL AND instrument_id IS NOT NULL)),
    CHECK (ends_at > starts_at)
);
CREATE INDEX bans_user ON bans (user_id, ends_at);

-- How an instrument is booked; no row means the defaults. The reservations module reads it.
CREATE TABLE booking_settings (
    instrument_id BIGINT PRIMARY KEY REFERENCES instruments (id),
    modes TEXT NOT NULL CHECK (modes IN ('machine_time', 'sample_order', 'both')),
    approval_required BOOLEAN NOT NULL,
    slot_minutes INTEGER NOT NULL CHECK (slot_minutes BETWEEN 5 AND 1440),
    min_minutes INTEGER NOT NULL CHECK (min_minutes >= 5),
    max_minutes INTEGER NOT NULL CHECK (max_minutes >= min_minutes),
    horizon_days INTEGER NOT NULL CHECK (horizon_days BETWEEN 1 AND 365),
    notice_minutes INTEGER NOT NULL CHECK (notice_minutes >= 0),
    updated_at TIMESTAMP NOT NULL
);

-- Retired instruments keep their rows (their history points at them) but leave the catalogue;
-- the catalogue's indexes cover only instruments in service.
ALTER TABLE instruments ADD COLUMN retired_at TIMESTAMP;
DROP INDEX instruments_unit;
DROP INDEX instruments_category;
DROP INDEX instruments_category_l1;
DROP INDEX instruments_category_l2;
DROP INDEX instruments_city_l1;
CREATE INDEX instruments_unit ON instruments (unit_id, id) WHERE retired_at IS NULL;
CREATE INDEX instruments_category ON instruments (category_code, id) WHERE retired_at IS NULL;
CREATE INDEX instruments_category_l1 ON instruments (category_l1, id) WHERE retired_at IS NULL;
CREATE INDEX instruments_category_l2 ON instruments (category_l2, id) WHERE retired_at IS NULL;
CREATE INDEX instruments_city_l1 ON instruments (city, category_l1, id) WHERE retired_at IS NULL;
