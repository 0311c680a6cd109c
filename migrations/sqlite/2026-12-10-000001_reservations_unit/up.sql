-- A unit's week grid reads the active machine time of all its instruments. Through
-- (instrument_id, starts_at) that is one B-tree descent per instrument (235 for the largest
-- unit), and each descent deepens as active bookings accumulate anywhere on the platform;
-- with the unit on the row it is one descent and the unit's bookings in the window.
-- The service writes unit_id with each booking; the triggers fill it for rows written by
-- other means (SQL loads, older clients), and instruments never change unit, but if one
-- does its reservations follow.
ALTER TABLE reservations ADD COLUMN unit_id BIGINT;
UPDATE reservations SET unit_id = (SELECT unit_id FROM instruments WHERE instruments.id = reservations.instrument_id);

CREATE TRIGGER reservations_fill_unit AFTER INSERT ON reservations
    WHEN NEW.unit_id IS NULL
BEGIN
    UPDATE reservations SET unit_id = (SELECT unit_id FROM instruments WHERE id = NEW.instrument_id)
        WHERE id = NEW.id;
END;
CREATE TRIGGER reservations_follow_instrument AFTER UPDATE OF instrument_id ON reservations
BEGIN
    UPDATE reservations SET unit_id = (SELECT unit_id FROM instruments WHERE id = NEW.instrument_id)
        WHERE id = NEW.id;
END;
CREATE TRIGGER instruments_move_reservations AFTER UPDATE OF unit_id ON instruments
    WHEN OLD.unit_id IS NOT NEW.unit_id
BEGIN
    UPDATE reservations SET unit_id = NEW.unit_id WHERE instrument_id = NEW.id;
END;

CREATE INDEX reservations_unit_active_time ON reservations (unit_id, starts_at)
    WHERE kind = 'machine_time' AND status IN ('pending', 'approved', 'in_use');
