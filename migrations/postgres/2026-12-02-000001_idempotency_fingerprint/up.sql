-- What a request with an Idempotency-Key asked for (SHA-256 of the parsed body), so that the
-- key reused for a different booking is refused instead of answered with the first one.
ALTER TABLE reservations ADD COLUMN idempotency_fingerprint TEXT;
