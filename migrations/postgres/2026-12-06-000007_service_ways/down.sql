ALTER TABLE reservations DROP COLUMN remote;
