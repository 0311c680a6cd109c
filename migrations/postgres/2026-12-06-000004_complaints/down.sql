DROP TABLE rectifications;
DROP TABLE holidays;
DROP TABLE complaint_history;
DROP TABLE complaints;
DROP TABLE rating_counts;
CREATE TABLE rating_counts (
    instrument_id BIGINT NOT NULL REFERENCES instruments (id),
    overall TEXT NOT NULL,
    ratings BIGINT NOT NULL CHECK (ratings >= 0),
    PRIMARY KEY (instrument_id, overall)
);
INSERT INTO rating_counts (instrument_id, overall, ratings)
    SELECT instrument_id, overall, COUNT(*) FROM ratings GROUP BY 1, 2;
