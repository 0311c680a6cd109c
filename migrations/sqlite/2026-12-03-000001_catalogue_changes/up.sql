-- Every committed change to what the search index holds (an instrument, or a unit whose name
-- its instruments carry), written in the editing transaction. Each instance's index catches
-- up from here, so an edit through one instance is found through all of them.
CREATE TABLE catalogue_changes (
    id INTEGER PRIMARY KEY,
    instrument_id BIGINT REFERENCES instruments (id),
    unit_id BIGINT REFERENCES units (id),
    changed_at TIMESTAMP NOT NULL
);
