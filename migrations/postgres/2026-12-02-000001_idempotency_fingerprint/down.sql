ALTER TABLE reservations DROP COLUMN idempotency_fingerprint;
