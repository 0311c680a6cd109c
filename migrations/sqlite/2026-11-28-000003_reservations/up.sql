-- Reservations (预约申请): the rest of the booking settings, blackouts, reservations with their
-- history, and the service records (机时) written at check-out.

ALTER TABLE booking_settings ADD COLUMN buffer_minutes INTEGER NOT NULL DEFAULT 0 CHECK (buffer_minutes BETWEEN 0 AND 1440);
ALTER TABLE booking_settings ADD COLUMN qualification_required BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE booking_settings ADD COLUMN max_active_per_user INTEGER NOT NULL DEFAULT 3 CHECK (max_active_per_user BETWEEN 1 AND 100);
ALTER TABLE booking_settings ADD COLUMN cancel_deadline_minutes INTEGER NOT NULL DEFAULT 1440 CHECK (cancel_deadline_minutes >= 0);
ALTER TABLE booking_settings ADD COLUMN no_show_grace_minutes INTEGER NOT NULL DEFAULT 15 CHECK (no_show_grace_minutes BETWEEN 0 AND 1440);
-- JSON: {"1": [[480, 1320]], …, "7": []} — minutes after local midnight, ISO weekday keys.
ALTER TABLE booking_settings ADD COLUMN opening_hours TEXT NOT NULL DEFAULT '';
-- JSON array of local dates ("2026-10-01") on which the instrument is closed.
ALTER TABLE booking_settings ADD COLUMN closed_days TEXT NOT NULL DEFAULT '[]';
ALTER TABLE booking_settings ADD COLUMN max_samples INTEGER NOT NULL DEFAULT 20 CHECK (max_samples >= 1);
ALTER TABLE booking_settings ADD COLUMN own_hour_fen BIGINT NOT NULL DEFAULT 0 CHECK (own_hour_fen >= 0);
ALTER TABLE booking_settings ADD COLUMN academic_hour_fen BIGINT NOT NULL DEFAULT 0 CHECK (academic_hour_fen >= 0);
ALTER TABLE booking_settings ADD COLUMN enterprise_hour_fen BIGINT NOT NULL DEFAULT 0 CHECK (enterprise_hour_fen >= 0);
ALTER TABLE booking_settings ADD COLUMN own_sample_fen BIGINT NOT NULL DEFAULT 0 CHECK (own_sample_fen >= 0);
ALTER TABLE booking_settings ADD COLUMN academic_sample_fen BIGINT NOT NULL DEFAULT 0 CHECK (academic_sample_fen >= 0);
ALTER TABLE booking_settings ADD COLUMN enterprise_sample_fen BIGINT NOT NULL DEFAULT 0 CHECK (enterprise_sample_fen >= 0);
ALTER TABLE booking_settings ADD COLUMN min_fee_fen BIGINT NOT NULL DEFAULT 0 CHECK (min_fee_fen >= 0);

CREATE TABLE blackouts (
    id INTEGER PRIMARY KEY,
    instrument_id BIGINT NOT NULL REFERENCES instruments (id),
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP NOT NULL,
    reason TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
    created_by BIGINT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX blackouts_instrument ON blackouts (instrument_id, ends_at);

CREATE TABLE reservations (
    id INTEGER PRIMARY KEY,
    instrument_id BIGINT NOT NULL REFERENCES instruments (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL CHECK (kind IN ('machine_time', 'sample_order')),
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'cancelled', 'in_use', 'no_show', 'completed', 'submitted', 'accepted', 'in_test', 'reported')),
    -- Machine time: the slot. Sample orders: NULL until accepted with a planned date.
    starts_at TIMESTAMP,
    ends_at TIMESTAMP,
    sample_count INTEGER CHECK (sample_count IS NULL OR sample_count >= 1),
    sample_description TEXT NOT NULL DEFAULT '' CHECK (length(sample_description) <= 500),
    wanted_by DATE,
    planned_on DATE,
    purpose TEXT NOT NULL DEFAULT '' CHECK (length(purpose) <= 200),
    project TEXT NOT NULL DEFAULT '' CHECK (length(project) <= 200),
    funding_source TEXT NOT NULL DEFAULT '' CHECK (length(funding_source) <= 100),
    price_tier TEXT NOT NULL CHECK (price_tier IN ('own_unit', 'academic', 'enterprise')),
    fee_estimate_fen BIGINT NOT NULL CHECK (fee_estimate_fen >= 0),
    reason TEXT,
    checked_in_at TIMESTAMP,
    checked_out_at TIMESTAMP,
    reminded_at TIMESTAMP,
    idempotency_key TEXT CHECK (idempotency_key IS NULL OR length(idempotency_key) BETWEEN 1 AND 100),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK (kind <> 'machine_time' OR (starts_at IS NOT NULL AND ends_at > starts_at)),
    UNIQUE (user_id, idempotency_key)
);
-- Overlap checks, availability and the week grid read only active rows: status before time,
-- so a million finished bookings are never scanned.
CREATE INDEX reservations_instrument_status_time ON reservations (instrument_id, status, starts_at);
CREATE INDEX reservations_user_instrument ON reservations (user_id, instrument_id, status);
CREATE INDEX reservations_user ON reservations (user_id, id);
CREATE INDEX reservations_status_time ON reservations (status, starts_at);

CREATE TABLE reservation_history (
    id INTEGER PRIMARY KEY,
    reservation_id BIGINT NOT NULL REFERENCES reservations (id),
    from_status TEXT,
    to_status TEXT NOT NULL,
    actor_id BIGINT REFERENCES users (id),
    note TEXT NOT NULL DEFAULT '',
    at TIMESTAMP NOT NULL
);
CREATE INDEX reservation_history_reservation ON reservation_history (reservation_id, id);

-- One record per service event (the national service record); issue "machine-hours" builds on it.
CREATE TABLE service_records (
    id INTEGER PRIMARY KEY,
    reservation_id BIGINT UNIQUE REFERENCES reservations (id),
    instrument_id BIGINT NOT NULL REFERENCES instruments (id),
    client_user_id BIGINT REFERENCES users (id),
    client_organisation_id BIGINT REFERENCES organisations (id),
    internal BOOLEAN NOT NULL,
    service_type TEXT NOT NULL CHECK (service_type IN ('testing', 'training', 'consulting', 'teaching')),
    service_way TEXT NOT NULL CHECK (service_way IN ('occupy', 'technical', 'entrusted', 'remote')),
    starts_at TIMESTAMP,
    ends_at TIMESTAMP,
    minutes INTEGER NOT NULL CHECK (minutes >= 0),
    sample_count INTEGER NOT NULL DEFAULT 0 CHECK (sample_count >= 0),
    fee_fen BIGINT NOT NULL CHECK (fee_fen >= 0),
    project TEXT NOT NULL DEFAULT '',
    funding_source TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX service_records_instrument ON service_records (instrument_id, starts_at);

-- Secret token (hashed) of a person's calendar feed URL.
ALTER TABLE users ADD COLUMN calendar_token_hash TEXT;
CREATE UNIQUE INDEX users_calendar_token ON users (calendar_token_hash);
