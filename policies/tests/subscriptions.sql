-- Memberships and credits: every member reads their organisation's plans, subscriptions and
-- credits and nobody sees another organisation's; staff spend and return credits on bookings
-- but give none; managers and above sell; and the credit ledger and the periods are never
-- rewritten or erased by any runtime role (no UPDATE or DELETE on the ledger; a period's invoice
-- link is written once).
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
insert into app.plans (org_id, id, name, price_amount, currency, interval_unit) values
  ('a0000000-0000-7000-8000-000000000000', 'a5000000-0000-7000-8000-000000000000', 'Monthly A', 5000, 'GBP', 'month'),
  ('b0000000-0000-7000-8000-000000000000', 'b5000000-0000-7000-8000-000000000000', 'Monthly B', 5000, 'GBP', 'month');
insert into app.subscriptions (org_id, id, customer_id, plan_id, status, anchor_date) values
  ('a0000000-0000-7000-8000-000000000000', 'a6000000-0000-7000-8000-000000000000', 'ac000000-0000-7000-8000-000000000000',
   'a5000000-0000-7000-8000-000000000000', 'active', '2030-01-01'),
  ('b0000000-0000-7000-8000-000000000000', 'b6000000-0000-7000-8000-000000000000', 'bc000000-0000-7000-8000-000000000000',
   'b5000000-0000-7000-8000-000000000000', 'active', '2030-01-01');
insert into app.subscription_periods (org_id, id, subscription_id, plan_id, starts_at, ends_at) values
  ('a0000000-0000-7000-8000-000000000000', 'a6100000-0000-7000-8000-000000000000', 'a6000000-0000-7000-8000-000000000000',
   'a5000000-0000-7000-8000-000000000000', '2030-01-01', '2030-02-01');
insert into app.credit_grants (org_id, id, customer_id, source, name, quantity) values
  ('a0000000-0000-7000-8000-000000000000', 'a7000000-0000-7000-8000-000000000000', 'ac000000-0000-7000-8000-000000000000',
   'package', 'Pack A', 5),
  ('b0000000-0000-7000-8000-000000000000', 'b7000000-0000-7000-8000-000000000000', 'bc000000-0000-7000-8000-000000000000',
   'package', 'Pack B', 5);
insert into app.credit_entries (org_id, grant_id, customer_id, kind, quantity) values
  ('a0000000-0000-7000-8000-000000000000', 'a7000000-0000-7000-8000-000000000000', 'ac000000-0000-7000-8000-000000000000', 'grant', 5),
  ('b0000000-0000-7000-8000-000000000000', 'b7000000-0000-7000-8000-000000000000', 'bc000000-0000-7000-8000-000000000000', 'grant', 5);
set local session_replication_role = origin;
set local role favcrm_member;

-- A's staff member: reads A's memberships and credits, gives none.
select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "user_id": "a2000000-0000-7000-8000-000000000000", "role": "staff", "scopes": []}');
do $$
declare
  n int;
begin
  assert (select count(*) from app.plans) = 1, 'staff read A''s plans only';
  assert (select count(*) from app.subscriptions) = 1, 'staff read A''s subscriptions only';
  assert (select count(*) from app.credit_grants) = 1, 'staff read A''s credit grants only';
  assert (select count(*) from app.credit_entries) = 1, 'staff read A''s ledger only';
  begin
    insert into app.credit_grants (org_id, customer_id, source, name, quantity)
    values ('a0000000-0000-7000-8000-000000000000', 'ac000000-0000-7000-8000-000000000000', 'adjustment', 'Free', 100);
    assert false, 'staff cannot give credits';
  exception when insufficient_privilege then null;
  end;
  begin
    insert into app.credit_entries (org_id, grant_id, customer_id, kind, quantity)
    values ('a0000000-0000-7000-8000-000000000000', 'a7000000-0000-7000-8000-000000000000',
            'ac000000-0000-7000-8000-000000000000', 'adjust', 10);
    assert false, 'staff cannot adjust credits';
  exception when insufficient_privilege then null;
  end;
  begin
    insert into app.plans (org_id, name, price_amount, currency, interval_unit)
    values ('a0000000-0000-7000-8000-000000000000', 'Staff plan', 1, 'GBP', 'week');
    assert false, 'staff cannot create plans';
  exception when insufficient_privilege then null;
  end;
  update app.subscriptions set status = 'cancelled';
  get diagnostics n = row_count;
  assert n = 0, 'staff change no subscription';
end
$$;

-- A's manager: all of A's, none of B's; and still no one rewrites or erases the ledger.
select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "user_id": "a1000000-0000-7000-8000-000000000000", "role": "manager", "scopes": []}');
do $$
declare
  n int;
begin
  assert not exists (select from app.credit_grants where id = 'b7000000-0000-7000-8000-000000000000'), 'B''s grant is invisible';
  update app.subscriptions set status = 'paused';
  get diagnostics n = row_count;
  assert n = 1, 'a manager changes A''s subscription only';
  begin
    insert into app.credit_grants (org_id, customer_id, source, name, quantity)
    values ('b0000000-0000-7000-8000-000000000000', 'bc000000-0000-7000-8000-000000000000', 'adjustment', 'Gift', 1);
    assert false, 'a manager cannot give credits in B';
  exception when insufficient_privilege then null;
  end;
  begin
    update app.credit_entries set quantity = 50;
    assert false, 'no member rewrites the credit ledger';
  exception when insufficient_privilege then null;
  end;
  begin
    delete from app.credit_entries;
    assert false, 'no member erases the credit ledger';
  exception when insufficient_privilege then null;
  end;
  begin
    update app.credit_grants set quantity = 50;
    assert false, 'no member changes a grant';
  exception when insufficient_privilege then null;
  end;
  begin
    delete from app.subscription_periods;
    assert false, 'no member erases a period';
  exception when insufficient_privilege then null;
  end;
  begin
    update app.subscription_periods set starts_at = '2031-01-01';
    assert false, 'no member moves a period';
  exception when insufficient_privilege then null;
  end;
end
$$;
rollback;
