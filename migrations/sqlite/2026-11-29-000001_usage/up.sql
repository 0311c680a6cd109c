-- Machine-hours (机时): service records count on a local date (Asia/Shanghai), carry their idle
-- time and who logged them; hour reductions keep their history; monthly rollups serve the
-- statistics and the yearly evaluation.

ALTER TABLE service_records ADD COLUMN served_on DATE NOT NULL DEFAULT '1970-01-01';
ALTER TABLE service_records ADD COLUMN idle_minutes INTEGER NOT NULL DEFAULT 0 CHECK (idle_minutes >= 0);
ALTER TABLE service_records ADD COLUMN logged_by BIGINT REFERENCES users (id);
UPDATE service_records SET served_on = date(coalesce(starts_at, created_at), '+8 hours');
DROP INDEX service_records_instrument;
-- With the client: a unit's client units per instrument are read from the index alone.
CREATE INDEX service_records_instrument ON service_records (instrument_id, served_on, client_organisation_id);
-- Covering what the statistics sum over the days at the edges of a period, so those are read
-- from the index alone.
CREATE INDEX service_records_served_on ON service_records (served_on, instrument_id, internal, service_type, minutes, sample_count, fee_fen, client_organisation_id);
CREATE INDEX service_records_client ON service_records (client_user_id, served_on);

-- A client's request to reduce the hours of a record (核减机时), decided by the instrument's staff.
CREATE TABLE hour_reductions (
    id INTEGER PRIMARY KEY,
    service_record_id BIGINT NOT NULL REFERENCES service_records (id),
    requested_by BIGINT NOT NULL REFERENCES users (id),
    minutes_before INTEGER NOT NULL CHECK (minutes_before >= 0),
    minutes_requested INTEGER NOT NULL CHECK (minutes_requested >= 0),
    fee_before_fen BIGINT NOT NULL CHECK (fee_before_fen >= 0),
    fee_after_fen BIGINT CHECK (fee_after_fen >= 0),
    reason TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    status TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'refused')),
    decided_by BIGINT REFERENCES users (id),
    decision_reason TEXT NOT NULL DEFAULT '' CHECK (length(decision_reason) <= 500),
    created_at TIMESTAMP NOT NULL,
    decided_at TIMESTAMP
);
CREATE INDEX hour_reductions_record ON hour_reductions (service_record_id, id);
CREATE UNIQUE INDEX hour_reductions_open ON hour_reductions (service_record_id) WHERE status = 'pending';
CREATE INDEX hour_reductions_status ON hour_reductions (status, id);

-- Sums of service records per instrument, month (yyyymm), service type and internal/external,
-- written in the transaction that writes or corrects a record.
CREATE TABLE usage_monthly (
    instrument_id BIGINT NOT NULL REFERENCES instruments (id),
    month INTEGER NOT NULL,
    service_type TEXT NOT NULL,
    internal BOOLEAN NOT NULL,
    services BIGINT NOT NULL,
    minutes BIGINT NOT NULL,
    samples BIGINT NOT NULL,
    fee_fen BIGINT NOT NULL,
    PRIMARY KEY (instrument_id, month, service_type, internal)
);
CREATE INDEX usage_monthly_month ON usage_monthly (month, instrument_id);

-- The same sums per instrument and calendar year: a unit's evaluation and the platform's
-- most used instruments over whole years read one row per instrument instead of twelve or more.
CREATE TABLE usage_yearly (
    instrument_id BIGINT NOT NULL REFERENCES instruments (id),
    year INTEGER NOT NULL,
    internal BOOLEAN NOT NULL,
    services BIGINT NOT NULL,
    minutes BIGINT NOT NULL,
    samples BIGINT NOT NULL,
    fee_fen BIGINT NOT NULL,
    PRIMARY KEY (instrument_id, year, internal)
);
CREATE INDEX usage_yearly_year ON usage_yearly (year, instrument_id);

-- The same sums per host unit: the platform overview reads these (a province has a few
-- hundred units, but tens of thousands of instruments).
CREATE TABLE usage_unit_monthly (
    unit_id BIGINT NOT NULL REFERENCES units (id),
    month INTEGER NOT NULL,
    service_type TEXT NOT NULL,
    internal BOOLEAN NOT NULL,
    services BIGINT NOT NULL,
    minutes BIGINT NOT NULL,
    samples BIGINT NOT NULL,
    fee_fen BIGINT NOT NULL,
    PRIMARY KEY (unit_id, month, service_type, internal)
);
CREATE INDEX usage_unit_monthly_month ON usage_unit_monthly (month);

-- Which client organisations a host unit served in a month (client units are counted distinct).
CREATE TABLE usage_clients (
    unit_id BIGINT NOT NULL REFERENCES units (id),
    month INTEGER NOT NULL,
    organisation_id BIGINT NOT NULL REFERENCES organisations (id),
    services BIGINT NOT NULL,
    PRIMARY KEY (unit_id, month, organisation_id)
);

-- Which client organisations the platform served in a month (its client units, counted
-- distinct over a period without reading every unit's list).
CREATE TABLE usage_platform_clients (
    month INTEGER NOT NULL,
    organisation_id BIGINT NOT NULL REFERENCES organisations (id),
    services BIGINT NOT NULL,
    PRIMARY KEY (month, organisation_id)
);

-- What a unit declares for its yearly evaluation: how many of its instruments fall under the
-- sharing rules (the denominator of three of the four ratios), which the platform cannot know.
CREATE TABLE unit_declarations (
    unit_id BIGINT NOT NULL REFERENCES units (id),
    year INTEGER NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    eligible_instruments INTEGER NOT NULL CHECK (eligible_instruments >= 0),
    declared_by BIGINT REFERENCES users (id),
    declared_at TIMESTAMP NOT NULL,
    PRIMARY KEY (unit_id, year)
);
