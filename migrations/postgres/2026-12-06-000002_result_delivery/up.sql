-- How a sample order's results reach the client (电子版 / 邮寄 / 自取); NULL for machine time.
ALTER TABLE reservations ADD COLUMN result_delivery TEXT;
