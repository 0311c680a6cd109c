-- An instrument that fails often (故障频繁) takes no bookings unless its unit says it may.
ALTER TABLE booking_settings ADD COLUMN book_when_faulty BOOLEAN NOT NULL DEFAULT FALSE;
-- The booker asks for the staff to operate the instrument or guide the session (技术共享).
ALTER TABLE reservations ADD COLUMN staff_assist BOOLEAN NOT NULL DEFAULT FALSE;
