-- The national service record (服务记录): content, direction, the applicant's contact, and the
-- project's funding source as a code of a fixed list ('' = no project); an instrument's date
-- of joining the platform (入网日期), which fixes the years it counts in; the rollups split by
-- service way and direction, and client units by internal / external.

ALTER TABLE service_records ADD COLUMN content TEXT NOT NULL DEFAULT '' CHECK (length(content) <= 200);
ALTER TABLE service_records ADD COLUMN direction TEXT NOT NULL DEFAULT 'research' CHECK (direction IN ('research', 'development', 'teaching', 'other'));
ALTER TABLE service_records ADD COLUMN applicant_name TEXT NOT NULL DEFAULT '';
ALTER TABLE service_records ADD COLUMN applicant_phone TEXT NOT NULL DEFAULT '';
ALTER TABLE service_records ADD COLUMN applicant_email TEXT NOT NULL DEFAULT '';
ALTER TABLE reservations ADD COLUMN direction TEXT NOT NULL DEFAULT 'research' CHECK (direction IN ('research', 'development', 'teaching', 'other'));

-- Free-text funding sources become codes: the obvious ones by their words, the rest 'other'.
UPDATE service_records SET funding_source = CASE
    WHEN funding_source = '' THEN ''
    WHEN funding_source LIKE '%国家自然科学基金%' OR funding_source LIKE '%国自然%' THEN 'nsfc'
    WHEN funding_source LIKE '%省%' THEN 'provincial'
    WHEN funding_source LIKE '%市%' THEN 'municipal'
    WHEN funding_source LIKE '%重点研发%' THEN 'key_rd'
    WHEN funding_source LIKE '%重大专项%' THEN 'major'
    WHEN funding_source LIKE '%企业%' THEN 'enterprise'
    WHEN funding_source LIKE '%自筹%' THEN 'own'
    ELSE 'other' END;
UPDATE reservations SET funding_source = CASE
    WHEN funding_source = '' THEN ''
    WHEN funding_source LIKE '%国家自然科学基金%' OR funding_source LIKE '%国自然%' THEN 'nsfc'
    WHEN funding_source LIKE '%省%' THEN 'provincial'
    WHEN funding_source LIKE '%市%' THEN 'municipal'
    WHEN funding_source LIKE '%重点研发%' THEN 'key_rd'
    WHEN funding_source LIKE '%重大专项%' THEN 'major'
    WHEN funding_source LIKE '%企业%' THEN 'enterprise'
    WHEN funding_source LIKE '%自筹%' THEN 'own'
    ELSE 'other' END;
-- The applicant of old records is their client account, as it is today.
UPDATE service_records SET
    applicant_name = coalesce((SELECT u.name FROM users u WHERE u.id = service_records.client_user_id), ''),
    applicant_phone = coalesce((SELECT u.phone FROM users u WHERE u.id = service_records.client_user_id), ''),
    applicant_email = coalesce((SELECT u.email FROM users u WHERE u.id = service_records.client_user_id), ''),
    content = coalesce((SELECT substr(CASE WHEN r.purpose = '' THEN r.sample_description ELSE r.purpose END, 1, 200) FROM reservations r WHERE r.id = service_records.reservation_id), '');

-- 入网日期: so that an upgrade moves no past year (they all counted today's catalogue), an
-- instrument already listed joined at the earliest of the day it was put into service, the day
-- it was created and its first service record. Units correct the date on the instrument's form.
ALTER TABLE instruments ADD COLUMN listed_on DATE;
UPDATE instruments SET listed_on = least(
    (created_at + interval '8 hours')::date,
    in_service_on,
    (SELECT min(r.served_on) FROM service_records r WHERE r.instrument_id = instruments.id));
ALTER TABLE instruments ALTER COLUMN listed_on SET NOT NULL;
CREATE INDEX instruments_listed ON instruments (unit_id, listed_on);

DROP INDEX service_records_served_on;
CREATE INDEX service_records_served_on ON service_records (served_on, instrument_id, internal, service_type, service_way, direction, minutes, sample_count, fee_fen, client_organisation_id);

DROP TABLE usage_unit_monthly;
CREATE TABLE usage_unit_monthly (
    unit_id BIGINT NOT NULL REFERENCES units (id),
    month INTEGER NOT NULL,
    service_type TEXT NOT NULL,
    service_way TEXT NOT NULL,
    direction TEXT NOT NULL,
    internal BOOLEAN NOT NULL,
    services BIGINT NOT NULL,
    minutes BIGINT NOT NULL,
    samples BIGINT NOT NULL,
    fee_fen BIGINT NOT NULL,
    PRIMARY KEY (unit_id, month, service_type, service_way, direction, internal)
);
CREATE INDEX usage_unit_monthly_month ON usage_unit_monthly (month);
INSERT INTO usage_unit_monthly (unit_id, month, service_type, service_way, direction, internal, services, minutes, samples, fee_fen)
  SELECT i.unit_id, CAST(to_char(r.served_on, 'YYYYMM') AS INTEGER), r.service_type, r.service_way, r.direction, r.internal, COUNT(*), SUM(r.minutes), SUM(r.sample_count), SUM(r.fee_fen)
  FROM service_records r JOIN instruments i ON i.id = r.instrument_id GROUP BY 1, 2, 3, 4, 5, 6;

DROP TABLE usage_clients;
CREATE TABLE usage_clients (
    unit_id BIGINT NOT NULL REFERENCES units (id),
    month INTEGER NOT NULL,
    organisation_id BIGINT NOT NULL REFERENCES organisations (id),
    internal BOOLEAN NOT NULL,
    services BIGINT NOT NULL,
    PRIMARY KEY (unit_id, month, organisation_id, internal)
);
INSERT INTO usage_clients (unit_id, month, organisation_id, internal, services)
  SELECT i.unit_id, CAST(to_char(r.served_on, 'YYYYMM') AS INTEGER), r.client_organisation_id, r.internal, COUNT(*)
  FROM service_records r JOIN instruments i ON i.id = r.instrument_id
  WHERE r.client_organisation_id IS NOT NULL GROUP BY 1, 2, 3, 4;

DROP TABLE usage_platform_clients;
CREATE TABLE usage_platform_clients (
    month INTEGER NOT NULL,
    organisation_id BIGINT NOT NULL REFERENCES organisations (id),
    internal BOOLEAN NOT NULL,
    services BIGINT NOT NULL,
    PRIMARY KEY (month, organisation_id, internal)
);
INSERT INTO usage_platform_clients (month, organisation_id, internal, services)
  SELECT month, organisation_id, internal, SUM(services) FROM usage_clients GROUP BY 1, 2, 3;
