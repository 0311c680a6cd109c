-- Which client organisations each instrument served in a calendar year, and how many: a unit's
-- yearly evaluation shows client units per instrument, and reading them from the records
-- meant sorting every record of the unit's year.
CREATE TABLE usage_instrument_clients (
    instrument_id BIGINT NOT NULL REFERENCES instruments (id),
    year INTEGER NOT NULL,
    organisation_id BIGINT NOT NULL REFERENCES organisations (id),
    PRIMARY KEY (instrument_id, year, organisation_id)
);
CREATE TABLE usage_instrument_client_counts (
    instrument_id BIGINT NOT NULL REFERENCES instruments (id),
    year INTEGER NOT NULL,
    clients BIGINT NOT NULL CHECK (clients >= 0),
    PRIMARY KEY (instrument_id, year)
);
INSERT INTO usage_instrument_clients (instrument_id, year, organisation_id)
  SELECT DISTINCT instrument_id, CAST(EXTRACT(YEAR FROM served_on) AS INTEGER), client_organisation_id
  FROM service_records WHERE client_organisation_id IS NOT NULL;
INSERT INTO usage_instrument_client_counts (instrument_id, year, clients)
  SELECT instrument_id, year, COUNT(*) FROM usage_instrument_clients GROUP BY instrument_id, year;
