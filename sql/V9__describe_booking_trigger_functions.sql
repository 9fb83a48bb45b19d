-- The two trigger functions of V6 get the description every function has (table rule 8, which
-- `favcrm policies audit` now checks for functions).
comment on function app.sync_booking_resources() is 'Trigger: a booking''s resources follow it (the active and blocked flags of its booking_resources rows).';
comment on function app.release_seat() is 'Trigger: when a seat booking stops being active, frees its seat and, until the service''s cut-off, gives it to the first customer waiting.';
