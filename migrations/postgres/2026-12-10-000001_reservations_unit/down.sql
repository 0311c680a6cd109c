DROP INDEX reservations_unit_active_time;
DROP TRIGGER instruments_move_reservations ON instruments;
DROP FUNCTION instruments_move_reservations();
DROP TRIGGER reservations_follow_instrument ON reservations;
DROP TRIGGER reservations_fill_unit ON reservations;
DROP FUNCTION reservations_fill_unit();
ALTER TABLE reservations DROP COLUMN unit_id;
