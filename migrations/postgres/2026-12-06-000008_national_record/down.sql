DROP TABLE usage_unit_monthly;
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
DROP TABLE usage_clients;
CREATE TABLE usage_clients (
    unit_id BIGINT NOT NULL REFERENCES units (id),
    month INTEGER NOT NULL,
    organisation_id BIGINT NOT NULL REFERENCES organisations (id),
    services BIGINT NOT NULL,
    PRIMARY KEY (unit_id, month, organisation_id)
);
DROP TABLE usage_platform_clients;
CREATE TABLE usage_platform_clients (
    month INTEGER NOT NULL,
    organisation_id BIGINT NOT NULL REFERENCES organisations (id),
    services BIGINT NOT NULL,
    PRIMARY KEY (month, organisation_id)
);
DROP INDEX service_records_served_on;
CREATE INDEX service_records_served_on ON service_records (served_on, instrument_id, internal, service_type, minutes, sample_count, fee_fen, client_organisation_id);
DROP INDEX instruments_listed;
ALTER TABLE instruments DROP COLUMN listed_on;
ALTER TABLE reservations DROP COLUMN direction;
ALTER TABLE service_records DROP COLUMN applicant_email;
ALTER TABLE service_records DROP COLUMN applicant_phone;
ALTER TABLE service_records DROP COLUMN applicant_name;
ALTER TABLE service_records DROP COLUMN direction;
ALTER TABLE service_records DROP COLUMN content;
-- The rollups are refilled by `yiqi usage rebuild-rollups` after going down.
