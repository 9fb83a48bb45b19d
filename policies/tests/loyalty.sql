-- Loyalty: every member reads their organisation's programme and ledger and nobody sees another
-- organisation's; staff write no ledger entry and set no programme; managers adjust but do not
-- set the programme or earn; and no runtime role rewrites or erases the ledger.
begin;
set local session_replication_role = replica;
insert into app.organisations (id, name) values
  ('a0000000-0000-7000-8000-000000000000', 'Org A'), ('b0000000-0000-7000-8000-000000000000', 'Org B');
insert into app.users (id, email) values
  ('a1000000-0000-7000-8000-000000000000', 'manager-a@example.com'),
  ('a2000000-0000-7000-8000-000000000000', 'staff-a@example.com');
insert into app.memberships (org_id, user_id, role, name, email) values
  ('a0000000-0000-7000-8000-000000000000', 'a1000000-0000-7000-8000-000000000000', 'manager', 'Manager A', 'manager-a@example.com'),
  ('a0000000-0000-7000-8000-000000000000', 'a2000000-0000-7000-8000-000000000000', 'staff', 'Staff A', 'staff-a@example.com');
insert into app.customers (org_id, id, name) values
  ('a0000000-0000-7000-8000-000000000000', 'ac000000-0000-7000-8000-000000000000', 'Amy'),
  ('b0000000-0000-7000-8000-000000000000', 'bc000000-0000-7000-8000-000000000000', 'Bea');
insert into app.loyalty_programmes (org_id, enabled, points_per_unit) values
  ('a0000000-0000-7000-8000-000000000000', true, 1), ('b0000000-0000-7000-8000-000000000000', true, 1);
insert into app.loyalty_entries (org_id, id, customer_id, unit, kind, quantity, lot_id, source, source_id) values
  ('a0000000-0000-7000-8000-000000000000', 'a7000000-0000-7000-8000-000000000000', 'ac000000-0000-7000-8000-000000000000',
   'points', 'earn', 100, 'a7000000-0000-7000-8000-000000000000', 'payment', 'a7100000-0000-7000-8000-000000000000'),
  ('b0000000-0000-7000-8000-000000000000', 'b7000000-0000-7000-8000-000000000000', 'bc000000-0000-7000-8000-000000000000',
   'points', 'earn', 100, 'b7000000-0000-7000-8000-000000000000', 'payment', 'b7100000-0000-7000-8000-000000000000');
set local session_replication_role = origin;
set local role favcrm_member;

select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "user_id": "a2000000-0000-7000-8000-000000000000", "role": "staff", "scopes": []}');
do $$
declare
  n int;
begin
  assert (select count(*) from app.loyalty_programmes) = 1, 'staff read A''s programme only';
  assert (select count(*) from app.loyalty_entries) = 1, 'staff read A''s ledger only';
  begin
    insert into app.loyalty_entries (org_id, id, customer_id, unit, kind, quantity, lot_id, source, source_id)
    values ('a0000000-0000-7000-8000-000000000000', 'a7200000-0000-7000-8000-000000000000',
            'ac000000-0000-7000-8000-000000000000', 'points', 'adjust', 1000, 'a7200000-0000-7000-8000-000000000000',
            'adjustment', 'a7200000-0000-7000-8000-000000000000');
    assert false, 'staff cannot give points';
  exception when insufficient_privilege then null;
  end;
  update app.loyalty_programmes set points_per_unit = 100;
  get diagnostics n = row_count;
  assert n = 0, 'staff change no programme';
end
$$;

select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "user_id": "a1000000-0000-7000-8000-000000000000", "role": "manager", "scopes": []}');
do $$
declare
  n int;
begin
  update app.loyalty_programmes set points_per_unit = 100;
  get diagnostics n = row_count;
  assert n = 0, 'a manager does not set the programme';
  begin
    insert into app.loyalty_entries (org_id, id, customer_id, unit, kind, quantity, lot_id, source, source_id)
    values ('a0000000-0000-7000-8000-000000000000', 'a7300000-0000-7000-8000-000000000000',
            'ac000000-0000-7000-8000-000000000000', 'points', 'earn', 1000, 'a7300000-0000-7000-8000-000000000000',
            'payment', 'a7400000-0000-7000-8000-000000000000');
    assert false, 'a manager cannot write an earning: only the event earns';
  exception when insufficient_privilege then null;
  end;
  begin
    insert into app.loyalty_entries (org_id, id, customer_id, unit, kind, quantity, lot_id, source, source_id)
    values ('b0000000-0000-7000-8000-000000000000', 'b7300000-0000-7000-8000-000000000000',
            'bc000000-0000-7000-8000-000000000000', 'points', 'adjust', 5, 'b7300000-0000-7000-8000-000000000000',
            'adjustment', 'b7300000-0000-7000-8000-000000000000');
    assert false, 'a manager cannot adjust in B';
  exception when insufficient_privilege then null;
  end;
  begin
    update app.loyalty_entries set quantity = 1000000;
    assert false, 'no member rewrites the loyalty ledger';
  exception when insufficient_privilege then null;
  end;
  begin
    delete from app.loyalty_entries;
    assert false, 'no member erases the loyalty ledger';
  exception when insufficient_privilege then null;
  end;
end
$$;
rollback;
