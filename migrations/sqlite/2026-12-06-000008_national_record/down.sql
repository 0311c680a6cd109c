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
INSERT INTO usage_unit_monthly (unit_id, month, service_type, internal, services, minutes, samples, fee_fen)
  SELECT i.unit_id, CAST(strftime('%Y%m', r.served_on) AS INTEGER), r.service_type, r.internal, COUNT(*), SUM(r.minutes), SUM(r.sample_count), SUM(r.fee_fen)
  FROM service_records r JOIN instruments i ON i.id = r.instrument_id GROUP BY 1, 2, 3, 4;
INSERT INTO usage_clients (unit_id, month, organisation_id, services)
  SELECT i.unit_id, CAST(strftime('%Y%m', r.served_on) AS INTEGER), r.client_organisation_id, COUNT(*)
  FROM service_records r JOIN instruments i ON i.id = r.instrument_id
  WHERE r.client_organisation_id IS NOT NULL GROUP BY 1, 2, 3;
INSERT INTO usage_platform_clients (month, organisation_id, services)
  SELECT month, organisation_id, SUM(services) FROM usage_clients GROUP BY 1, 2;
