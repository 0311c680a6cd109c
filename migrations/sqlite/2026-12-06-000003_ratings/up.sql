-- 评价: the client of a service rates it once (and may change it for a while); the host unit
-- may answer once, publicly. Each score is on the national five-level scale.
CREATE TABLE ratings (
    id INTEGER PRIMARY KEY,
    service_record_id BIGINT NOT NULL UNIQUE REFERENCES service_records (id),
    instrument_id BIGINT NOT NULL REFERENCES instruments (id),
    rater_id BIGINT NOT NULL REFERENCES users (id),
    overall TEXT NOT NULL CHECK (overall IN ('very_satisfied', 'satisfied', 'neutral', 'dissatisfied', 'very_dissatisfied')),
    attitude TEXT NOT NULL CHECK (attitude IN ('very_satisfied', 'satisfied', 'neutral', 'dissatisfied', 'very_dissatisfied')),
    quality TEXT NOT NULL CHECK (quality IN ('very_satisfied', 'satisfied', 'neutral', 'dissatisfied', 'very_dissatisfied')),
    timeliness TEXT NOT NULL CHECK (timeliness IN ('very_satisfied', 'satisfied', 'neutral', 'dissatisfied', 'very_dissatisfied')),
    price TEXT NOT NULL CHECK (price IN ('very_satisfied', 'satisfied', 'neutral', 'dissatisfied', 'very_dissatisfied')),
    condition TEXT NOT NULL CHECK (condition IN ('very_satisfied', 'satisfied', 'neutral', 'dissatisfied', 'very_dissatisfied')),
    comment TEXT NOT NULL DEFAULT '' CHECK (length(comment) <= 500),
    reply TEXT CHECK (length(reply) BETWEEN 1 AND 500),
    replied_by BIGINT REFERENCES users (id),
    replied_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- The instrument page's latest ratings, newest first.
CREATE INDEX ratings_instrument ON ratings (instrument_id, id);

-- How many ratings of an instrument gave each overall level: the page's distribution, average
-- and satisfaction in a few rows, kept in the rating's transaction like the hours' rollups and
-- rebuilt with them (yiqi usage rebuild-rollups).
CREATE TABLE rating_counts (
    instrument_id BIGINT NOT NULL REFERENCES instruments (id),
    overall TEXT NOT NULL,
    ratings BIGINT NOT NULL CHECK (ratings >= 0),
    PRIMARY KEY (instrument_id, overall)
);
