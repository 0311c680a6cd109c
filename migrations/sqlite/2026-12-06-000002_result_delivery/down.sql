ALTER TABLE reservations DROP COLUMN result_delivery;
