-- Taking a slot asks, for each candidate staff member, whether a booking of theirs overlaps the
-- new one, and counts their bookings that day. The exclusion constraint's GiST index
-- (org_id, staff_id, blocked) answers the first with org_id and the range only, walking the
-- organisation's bookings around that time for every candidate; this btree finds one staff
-- member's bookings near a start directly.
create index bookings_org_id_staff_id_starts_at_idx on app.bookings (org_id, staff_id, starts_at) where active;
