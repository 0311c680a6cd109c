-- The statements of one yiqi booking on PostgreSQL, without HTTP, Rust or diesel (run by
-- benches/booking.sh beside POST /api/v1/reservations): lock the instrument,
-- check for an overlap, insert the reservation (with the instrument's unit, as the service
-- writes it), its history row and its e-mail. Each client books its
-- own far-future slots (no clashes), on a random instrument, so the lock contention is the real one.
\set i random(1, 1940)
\set k random(1, 100000000)
BEGIN;
SELECT unit_id AS unit FROM instruments WHERE id = :i FOR UPDATE \gset
SELECT id FROM reservations WHERE instrument_id = :i AND kind = 'machine_time' AND status IN ('pending', 'approved', 'in_use')
  AND starts_at < timestamp '2030-01-01' + :k * interval '1 minute' + :client_id * interval '200 years' + interval '1 minute'
  AND ends_at > timestamp '2030-01-01' + :k * interval '1 minute' + :client_id * interval '200 years' LIMIT 1;
INSERT INTO reservations (instrument_id, unit_id, user_id, kind, status, starts_at, ends_at, price_tier, fee_estimate_fen, created_at, updated_at)
  VALUES (:i, :unit, 4, 'machine_time', 'approved', timestamp '2030-01-01' + :k * interval '1 minute' + :client_id * interval '200 years',
          timestamp '2030-01-01' + :k * interval '1 minute' + :client_id * interval '200 years' + interval '1 minute', 'academic', 0, now(), now())
  RETURNING id \gset
INSERT INTO reservation_history (reservation_id, to_status, at) VALUES (:id, 'approved', now());
INSERT INTO mail_outbox (kind, recipients, subject, body_text, body_html, status, next_attempt_at, created_at)
  VALUES ('bench', '["a@b.cn"]', 'subject', 'text', 'html', 'queued', now(), now());
COMMIT;
