-- What occupies an instrument (availability, the week grid, the clash check) reads active
-- machine-time bookings of some instruments up to the end of a window. Indexed by status first,
-- a planner that misjudges how selective the status is (statistics taken before the bookings
-- came) scans every booking of each instrument, the whole future included; this index holds
-- active machine time only, by instrument and start, so the scan stops at the window's end
-- whatever the statistics say. Its predicate is the literal one the queries write.
CREATE INDEX reservations_active_time ON reservations (instrument_id, starts_at)
    WHERE kind = 'machine_time' AND status IN ('pending', 'approved', 'in_use');
