-- Joining a unit's staff moves a person's organisation (their price tier, whether their
-- services count as internal), so a unit admin invites and the person accepts. On accepting,
-- the organisation they had is kept here; leaving the staff gives it back.
CREATE TABLE staff_invitations (
    id INTEGER PRIMARY KEY,
    unit_id BIGINT NOT NULL REFERENCES units (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    role TEXT NOT NULL CHECK (role IN ('instrument_manager', 'unit_admin')),
    status TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'declined', 'ended')),
    invited_by BIGINT NOT NULL REFERENCES users (id),
    previous_organisation_id BIGINT REFERENCES organisations (id),
    created_at TIMESTAMP NOT NULL,
    decided_at TIMESTAMP
);
-- One open invitation per person and unit (a second click sends nothing new).
CREATE UNIQUE INDEX staff_invitations_open ON staff_invitations (unit_id, user_id) WHERE status = 'pending';
CREATE INDEX staff_invitations_user ON staff_invitations (user_id, status);
