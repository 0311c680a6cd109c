-- A machine-time booking may be a remote session (远程共享): its check-out records that way.
ALTER TABLE reservations ADD COLUMN remote BOOLEAN NOT NULL DEFAULT FALSE;
