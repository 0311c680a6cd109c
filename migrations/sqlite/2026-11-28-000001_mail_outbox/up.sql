-- Transactional outbox: every e-mail is a row written in the transaction that caused it, and
-- a background sender delivers it (mail/ and jobs/).
CREATE TABLE mail_outbox (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 50),
    -- JSON array of addresses; read whole, never queried inside.
    recipients TEXT NOT NULL,
    subject TEXT NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    related_type TEXT,
    related_id BIGINT,
    status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sending', 'sent', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TIMESTAMP NOT NULL,
    -- While 'sending': when a sender that crashed mid-way loses its claim.
    lease_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX mail_outbox_due ON mail_outbox (status, next_attempt_at);
