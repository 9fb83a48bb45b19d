-- app.bookings and app.booking_resources: managers and above see and change all of their
-- organisation's bookings; staff only those assigned to them; nobody another organisation's.
-- app.services: everyone reads, only managers and above change.
begin;
set local session_replication_role = replica;
insert into app.organisations (id, name) values
  ('a0000000-0000-7000-8000-000000000000', 'Org A'), ('b0000000-0000-7000-8000-000000000000', 'Org B');
insert into app.users (id, email) values
  ('a1000000-0000-7000-8000-000000000000', 'manager-a@example.com'),
  ('a2000000-0000-7000-8000-000000000000', 'staff-a@example.com'),
  ('a3000000-0000-7000-8000-000000000000', 'other-a@example.com');
insert into app.memberships (org_id, user_id, role, name, email) values
  ('a0000000-0000-7000-8000-000000000000', 'a1000000-0000-7000-8000-000000000000', 'manager', 'Manager A', 'manager-a@example.com'),
  ('a0000000-0000-7000-8000-000000000000', 'a2000000-0000-7000-8000-000000000000', 'staff', 'Staff A', 'staff-a@example.com'),
  ('a0000000-0000-7000-8000-000000000000', 'a3000000-0000-7000-8000-000000000000', 'staff', 'Other A', 'other-a@example.com');
insert into app.services (org_id, id, name, duration_minutes, currency) values
  ('a0000000-0000-7000-8000-000000000000', 'a5000000-0000-7000-8000-000000000000', 'Cut', 60, 'GBP'),
  ('b0000000-0000-7000-8000-000000000000', 'b5000000-0000-7000-8000-000000000000', 'Cut B', 60, 'GBP');
insert into app.staff (org_id, id, name, user_id) values
  ('a0000000-0000-7000-8000-000000000000', 'a6000000-0000-7000-8000-000000000000', 'Staff A', 'a2000000-0000-7000-8000-000000000000'),
  ('a0000000-0000-7000-8000-000000000000', 'a7000000-0000-7000-8000-000000000000', 'Other A', 'a3000000-0000-7000-8000-000000000000'),
  ('b0000000-0000-7000-8000-000000000000', 'b6000000-0000-7000-8000-000000000000', 'Staff B', null);
insert into app.customers (org_id, id, name) values
  ('a0000000-0000-7000-8000-000000000000', 'a8000000-0000-7000-8000-000000000000', 'Amy'),
  ('b0000000-0000-7000-8000-000000000000', 'b8000000-0000-7000-8000-000000000000', 'Bea');
insert into app.bookings (org_id, id, service_id, staff_id, staff_user_id, customer_id, status, starts_at, ends_at, blocked,
                          price_amount, currency) values
  ('a0000000-0000-7000-8000-000000000000', 'a9100000-0000-7000-8000-000000000000', 'a5000000-0000-7000-8000-000000000000',
   'a6000000-0000-7000-8000-000000000000', 'a2000000-0000-7000-8000-000000000000', 'a8000000-0000-7000-8000-000000000000',
   'confirmed', '2030-01-01 10:00Z', '2030-01-01 11:00Z', '[2030-01-01 10:00Z, 2030-01-01 11:00Z)', 0, 'GBP'),
  ('a0000000-0000-7000-8000-000000000000', 'a9200000-0000-7000-8000-000000000000', 'a5000000-0000-7000-8000-000000000000',
   'a7000000-0000-7000-8000-000000000000', 'a3000000-0000-7000-8000-000000000000', 'a8000000-0000-7000-8000-000000000000',
   'confirmed', '2030-01-01 10:00Z', '2030-01-01 11:00Z', '[2030-01-01 10:00Z, 2030-01-01 11:00Z)', 0, 'GBP'),
  ('b0000000-0000-7000-8000-000000000000', 'b9100000-0000-7000-8000-000000000000', 'b5000000-0000-7000-8000-000000000000',
   'b6000000-0000-7000-8000-000000000000', null, 'b8000000-0000-7000-8000-000000000000',
   'confirmed', '2030-01-01 10:00Z', '2030-01-01 11:00Z', '[2030-01-01 10:00Z, 2030-01-01 11:00Z)', 0, 'GBP');
set local session_replication_role = origin;
set local role favcrm_member;

-- Acting as A's staff member: only their own booking, even by id.
select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "user_id": "a2000000-0000-7000-8000-000000000000", "role": "staff", "scopes": []}');
do $$
declare
  n int;
begin
  assert (select count(*) from app.bookings) = 1, 'staff see only the booking assigned to them';
  assert not exists (select from app.bookings where id = 'a9200000-0000-7000-8000-000000000000'),
    'staff cannot read a colleague''s booking by id';
  update app.bookings set notes = 'mine now' where id = 'a9200000-0000-7000-8000-000000000000';
  get diagnostics n = row_count;
  assert n = 0, 'staff cannot change a colleague''s booking';
  begin
    insert into app.bookings (org_id, service_id, staff_id, staff_user_id, customer_id, status, starts_at, ends_at,
                              blocked, price_amount, currency)
    values ('a0000000-0000-7000-8000-000000000000', 'a5000000-0000-7000-8000-000000000000',
            'a7000000-0000-7000-8000-000000000000', 'a3000000-0000-7000-8000-000000000000',
            'a8000000-0000-7000-8000-000000000000', 'confirmed', '2030-01-02 10:00Z', '2030-01-02 11:00Z',
            '[2030-01-02 10:00Z, 2030-01-02 11:00Z)', 0, 'GBP');
    assert false, 'staff cannot book a colleague';
  exception when insufficient_privilege then null;
  end;
  update app.services set name = 'Free cut';
  get diagnostics n = row_count;
  assert n = 0, 'staff cannot change services';
  assert (select count(*) from app.services) = 1, 'everyone in A reads A''s services, not B''s';
end
$$;

-- Acting as A's manager: every booking of A, none of B.
select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "user_id": "a1000000-0000-7000-8000-000000000000", "role": "manager", "scopes": []}');
do $$
declare
  n int;
begin
  assert (select count(*) from app.bookings) = 2, 'a manager sees all of A''s bookings and none of B''s';
  update app.bookings set notes = 'checked';
  get diagnostics n = row_count;
  assert n = 2, 'a manager changes only A''s bookings';
  update app.services set description = 'checked';
  get diagnostics n = row_count;
  assert n = 1, 'a manager changes A''s services only';
end
$$;
rollback;
