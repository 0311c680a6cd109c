DROP INDEX reservations_active_time;
