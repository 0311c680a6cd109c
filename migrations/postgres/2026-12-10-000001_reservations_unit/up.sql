-- A unit's week grid reads the active machine time of all its instruments. Through
-- (instrument_id, starts_at) that is one B-tree descent per instrument (235 for the largest
-- unit), and each descent deepens as active bookings accumulate anywhere on the platform;
-- with the unit on the row it is one descent and the unit's bookings in the window.
-- The service writes unit_id with each booking; the trigger fills it for rows written by
-- other means (SQL loads, older clients), and instruments never change unit, but if one
-- does its reservations follow.
ALTER TABLE reservations ADD COLUMN unit_id BIGINT;
UPDATE reservations r SET unit_id = i.unit_id FROM instruments i WHERE i.id = r.instrument_id;

CREATE FUNCTION reservations_fill_unit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT unit_id INTO NEW.unit_id FROM instruments WHERE id = NEW.instrument_id;
    RETURN NEW;
END
$$;
CREATE TRIGGER reservations_fill_unit BEFORE INSERT ON reservations
    FOR EACH ROW WHEN (NEW.unit_id IS NULL) EXECUTE FUNCTION reservations_fill_unit();
CREATE TRIGGER reservations_follow_instrument BEFORE UPDATE OF instrument_id ON reservations
    FOR EACH ROW EXECUTE FUNCTION reservations_fill_unit();

CREATE FUNCTION instruments_move_reservations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE reservations SET unit_id = NEW.unit_id WHERE instrument_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER instruments_move_reservations AFTER UPDATE OF unit_id ON instruments
    FOR EACH ROW WHEN (OLD.unit_id IS DISTINCT FROM NEW.unit_id)
    EXECUTE FUNCTION instruments_move_reservations();

CREATE INDEX reservations_unit_active_time ON reservations (unit_id, starts_at)
    WHERE kind = 'machine_time' AND status IN ('pending', 'approved', 'in_use');
