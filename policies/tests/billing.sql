-- Billing: managers and above read and write their organisation's invoices, payments, refunds
-- and credit notes; staff read only those of bookings assigned to them, and only when the
-- organisation allows it; staff never write them; nobody sees another organisation's; and no
-- role erases money (no DELETE on payments, refunds, credit notes or the balance ledger).
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
  ('a0000000-0000-7000-8000-000000000000', 'a8000000-0000-7000-8000-000000000000', 'Amy'),
  ('b0000000-0000-7000-8000-000000000000', 'b8000000-0000-7000-8000-000000000000', 'Bea');
-- One invoice of the staff member's booking, one of nobody's, one of B's; each paid.
insert into app.invoices (org_id, id, customer_id, status, series, currency, total_amount, amount_paid, staff_user_id) values
  ('a0000000-0000-7000-8000-000000000000', 'a9100000-0000-7000-8000-000000000000', 'a8000000-0000-7000-8000-000000000000',
   'draft', 'INV', 'GBP', 100, 100, 'a2000000-0000-7000-8000-000000000000'),
  ('a0000000-0000-7000-8000-000000000000', 'a9200000-0000-7000-8000-000000000000', 'a8000000-0000-7000-8000-000000000000',
   'draft', 'INV', 'GBP', 100, 100, null),
  ('b0000000-0000-7000-8000-000000000000', 'b9100000-0000-7000-8000-000000000000', 'b8000000-0000-7000-8000-000000000000',
   'draft', 'INV', 'GBP', 100, 100, null);
insert into app.payments (org_id, id, invoice_id, customer_id, method, amount, currency, received_on, staff_user_id) values
  ('a0000000-0000-7000-8000-000000000000', 'a9300000-0000-7000-8000-000000000000', 'a9100000-0000-7000-8000-000000000000',
   'a8000000-0000-7000-8000-000000000000', 'cash', 100, 'GBP', '2030-01-01', 'a2000000-0000-7000-8000-000000000000'),
  ('a0000000-0000-7000-8000-000000000000', 'a9400000-0000-7000-8000-000000000000', 'a9200000-0000-7000-8000-000000000000',
   'a8000000-0000-7000-8000-000000000000', 'cash', 100, 'GBP', '2030-01-01', null),
  ('b0000000-0000-7000-8000-000000000000', 'b9300000-0000-7000-8000-000000000000', 'b9100000-0000-7000-8000-000000000000',
   'b8000000-0000-7000-8000-000000000000', 'cash', 100, 'GBP', '2030-01-01', null);
insert into app.tax_rates (org_id, id, name, percentage_bp, inclusive) values
  ('a0000000-0000-7000-8000-000000000000', 'a9500000-0000-7000-8000-000000000000', 'VAT', 2000, false),
  ('b0000000-0000-7000-8000-000000000000', 'b9500000-0000-7000-8000-000000000000', 'VAT B', 2000, false);
set local session_replication_role = origin;
set local role favcrm_member;

-- Acting as A's staff member, the organisation not allowing staff billing: nothing.
select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "user_id": "a2000000-0000-7000-8000-000000000000", "role": "staff", "scopes": []}');
do $$
begin
  assert (select count(*) from app.invoices) = 0, 'staff see no invoice while the organisation does not allow it';
  assert (select count(*) from app.payments) = 0, 'staff see no payment while the organisation does not allow it';
  assert (select count(*) from app.tax_rates) = 1, 'staff read their organisation''s tax rates';
end
$$;

-- The organisation allows it (as its owner would through update_organisation).
reset role;
update app.organisations set staff_billing_access = true where id = 'a0000000-0000-7000-8000-000000000000';
set local role favcrm_member;
do $$
declare
  n int;
begin
  assert (select count(*) from app.invoices) = 1, 'staff see the invoice of their own booking only';
  assert exists (select from app.invoices where id = 'a9100000-0000-7000-8000-000000000000'), 'their own';
  assert not exists (select from app.invoices where id = 'a9200000-0000-7000-8000-000000000000'),
    'staff cannot read an invoice of nobody''s booking by id';
  assert (select count(*) from app.payments) = 1, 'staff see the payment of their own booking''s invoice only';
  update app.invoices set memo = 'mine now';
  get diagnostics n = row_count;
  assert n = 0, 'staff change no invoice, not even their own';
  begin
    insert into app.invoices (org_id, customer_id, series, currency)
    values ('a0000000-0000-7000-8000-000000000000', 'a8000000-0000-7000-8000-000000000000', 'INV', 'GBP');
    assert false, 'staff cannot create an invoice';
  exception when insufficient_privilege then null;
  end;
  begin
    insert into app.payments (org_id, invoice_id, customer_id, method, amount, currency, received_on)
    values ('a0000000-0000-7000-8000-000000000000', 'a9100000-0000-7000-8000-000000000000',
            'a8000000-0000-7000-8000-000000000000', 'cash', 1, 'GBP', '2030-01-01');
    assert false, 'staff cannot record a payment';
  exception when insufficient_privilege then null;
  end;
  begin
    insert into app.document_counters (org_id, kind, series, year, last_number)
    values ('a0000000-0000-7000-8000-000000000000', 'invoice', 'INV', 2030, 1);
    assert false, 'staff cannot hand out invoice numbers';
  exception when insufficient_privilege then null;
  end;
end
$$;

-- Acting as A's manager: all of A's billing, none of B's; nobody erases a payment.
select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "user_id": "a1000000-0000-7000-8000-000000000000", "role": "manager", "scopes": []}');
do $$
declare
  n int;
begin
  assert (select count(*) from app.invoices) = 2, 'a manager sees all of A''s invoices and none of B''s';
  assert (select count(*) from app.payments) = 2, 'a manager sees all of A''s payments and none of B''s';
  assert (select count(*) from app.tax_rates) = 1, 'a manager sees A''s tax rates only';
  update app.invoices set memo = 'checked';
  get diagnostics n = row_count;
  assert n = 2, 'a manager changes only A''s invoices';
  begin
    insert into app.invoices (org_id, customer_id, series, currency)
    values ('b0000000-0000-7000-8000-000000000000', 'b8000000-0000-7000-8000-000000000000', 'INV', 'GBP');
    assert false, 'a manager cannot create an invoice in B';
  exception when insufficient_privilege then null;
  end;
  begin
    delete from app.payments;
    assert false, 'no member erases a payment';
  exception when insufficient_privilege then null;
  end;
  begin
    delete from app.invoices;
    assert false, 'no member erases an invoice';
  exception when insufficient_privilege then null;
  end;
end
$$;
rollback;
