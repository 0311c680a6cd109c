-- Ratings are counted per year of the service too: the yearly evaluation and the statistics
-- read a unit's satisfaction from these counts, kept in the rating's transaction.
DROP TABLE rating_counts;
CREATE TABLE rating_counts (
    instrument_id BIGINT NOT NULL REFERENCES instruments (id),
    year INTEGER NOT NULL,
    overall TEXT NOT NULL,
    ratings BIGINT NOT NULL CHECK (ratings >= 0),
    PRIMARY KEY (instrument_id, year, overall)
);
INSERT INTO rating_counts (instrument_id, year, overall, ratings)
    SELECT g.instrument_id, CAST(strftime('%Y', r.served_on) AS INTEGER), g.overall, COUNT(*)
    FROM ratings g JOIN service_records r ON r.id = g.service_record_id
    GROUP BY 1, 2, 3;

-- 投诉: a user's complaint about a service, a booking, an instrument or a unit, and its way
-- through the platform and the unit (the states and steps are in evaluation::complaints).
CREATE TABLE complaints (
    id INTEGER PRIMARY KEY,
    complainant_id BIGINT NOT NULL REFERENCES users (id),
    subject TEXT NOT NULL CHECK (subject IN ('service_record', 'reservation', 'instrument', 'unit')),
    subject_id BIGINT NOT NULL,
    unit_id BIGINT NOT NULL REFERENCES units (id),
    instrument_id BIGINT REFERENCES instruments (id),
    category TEXT NOT NULL CHECK (category IN ('refused', 'overcharging', 'quality', 'delay', 'attitude', 'false_listing', 'other')),
    description TEXT NOT NULL CHECK (length(description) BETWEEN 1 AND 2000),
    request TEXT NOT NULL DEFAULT '' CHECK (length(request) <= 500),
    status TEXT NOT NULL CHECK (status IN ('submitted', 'sent_back', 'accepted', 'answered', 'escalated', 'rectifying', 'rectified', 'closed', 'withdrawn')),
    sent_back_reason TEXT,
    answer TEXT,
    decision TEXT CHECK (decision IN ('upheld', 'partly_upheld', 'rejected')),
    decision_reason TEXT,
    rectification TEXT,
    accepted_at TIMESTAMP,
    answer_due_at TIMESTAMP,
    answered_at TIMESTAMP,
    overdue_at TIMESTAMP,
    decided_at TIMESTAMP,
    closed_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX complaints_complainant ON complaints (complainant_id, id);
CREATE INDEX complaints_unit ON complaints (unit_id, id);
-- One open complaint per person and subject: a double click or a second tab files it once.
CREATE UNIQUE INDEX complaints_open ON complaints (complainant_id, subject, subject_id)
    WHERE status IN ('submitted', 'accepted', 'answered', 'escalated', 'rectifying', 'rectified');
-- What the overdue job looks for: accepted, not yet marked, by deadline.
CREATE INDEX complaints_due ON complaints (status, answer_due_at);

CREATE TABLE complaint_history (
    id INTEGER PRIMARY KEY,
    complaint_id BIGINT NOT NULL REFERENCES complaints (id),
    from_status TEXT,
    to_status TEXT NOT NULL,
    step TEXT NOT NULL,
    actor_id BIGINT REFERENCES users (id),
    note TEXT NOT NULL DEFAULT '',
    at TIMESTAMP NOT NULL
);
CREATE INDEX complaint_history_complaint ON complaint_history (complaint_id, id);

-- The days that differ from "Monday to Friday work": public holidays, and the weekend days
-- worked in their place (调休上班). Platform admins keep it; deadlines count working days by it.
CREATE TABLE holidays (
    day DATE PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('holiday', 'workday')),
    name TEXT NOT NULL DEFAULT ''
);
-- 2026, as the State Council announced it.
INSERT INTO holidays (day, kind, name) VALUES
    ('2026-01-01', 'holiday', '元旦'), ('2026-01-02', 'holiday', '元旦'), ('2026-01-03', 'holiday', '元旦'),
    ('2026-01-04', 'workday', '元旦调休'),
    ('2026-02-14', 'workday', '春节调休'),
    ('2026-02-15', 'holiday', '春节'), ('2026-02-16', 'holiday', '春节'), ('2026-02-17', 'holiday', '春节'),
    ('2026-02-18', 'holiday', '春节'), ('2026-02-19', 'holiday', '春节'), ('2026-02-20', 'holiday', '春节'),
    ('2026-02-21', 'holiday', '春节'), ('2026-02-22', 'holiday', '春节'), ('2026-02-23', 'holiday', '春节'),
    ('2026-02-28', 'workday', '春节调休'),
    ('2026-04-04', 'holiday', '清明节'), ('2026-04-05', 'holiday', '清明节'), ('2026-04-06', 'holiday', '清明节'),
    ('2026-05-01', 'holiday', '劳动节'), ('2026-05-02', 'holiday', '劳动节'), ('2026-05-03', 'holiday', '劳动节'),
    ('2026-05-04', 'holiday', '劳动节'), ('2026-05-05', 'holiday', '劳动节'),
    ('2026-05-09', 'workday', '劳动节调休'),
    ('2026-06-19', 'holiday', '端午节'), ('2026-06-20', 'holiday', '端午节'), ('2026-06-21', 'holiday', '端午节'),
    ('2026-09-20', 'workday', '国庆节调休'),
    ('2026-09-25', 'holiday', '中秋节'), ('2026-09-26', 'holiday', '中秋节'), ('2026-09-27', 'holiday', '中秋节'),
    ('2026-10-01', 'holiday', '国庆节'), ('2026-10-02', 'holiday', '国庆节'), ('2026-10-03', 'holiday', '国庆节'),
    ('2026-10-04', 'holiday', '国庆节'), ('2026-10-05', 'holiday', '国庆节'), ('2026-10-06', 'holiday', '国庆节'),
    ('2026-10-07', 'holiday', '国庆节'),
    ('2026-10-10', 'workday', '国庆节调休');

-- 限期整改: the platform orders a unit to rectify after the yearly round; the unit reports
-- back; the platform closes the notice or extends its deadline.
CREATE TABLE rectifications (
    id INTEGER PRIMARY KEY,
    unit_id BIGINT NOT NULL REFERENCES units (id),
    year INTEGER NOT NULL,
    reason TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    deadline DATE NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('issued', 'reported', 'closed')),
    report TEXT,
    reported_at TIMESTAMP,
    extensions INTEGER NOT NULL DEFAULT 0,
    issued_by BIGINT NOT NULL REFERENCES users (id),
    closed_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX rectifications_unit ON rectifications (unit_id, year);
-- One open notice per unit and year: a double click issues it once.
CREATE UNIQUE INDEX rectifications_open ON rectifications (unit_id, year) WHERE status <> 'closed';
