ALTER TABLE reservations DROP COLUMN staff_assist;
ALTER TABLE booking_settings DROP COLUMN book_when_faulty;
