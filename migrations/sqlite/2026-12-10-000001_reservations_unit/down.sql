DROP INDEX reservations_unit_active_time;
DROP TRIGGER instruments_move_reservations;
DROP TRIGGER reservations_follow_instrument;
DROP TRIGGER reservations_fill_unit;
ALTER TABLE reservations DROP COLUMN unit_id;
