-- app.customers and app.customer_notes: members see and change only their organisation's
-- rows, cannot move a row to another organisation, and cannot hard-delete.
begin;
set local session_replication_role = replica;
insert into app.organisations (id, name) values
  ('a0000000-0000-7000-8000-000000000000', 'Org A'), ('b0000000-0000-7000-8000-000000000000', 'Org B');
insert into app.customers (org_id, id, name) values
  ('a0000000-0000-7000-8000-000000000000', 'ac000000-0000-7000-8000-000000000000', 'A customer'),
  ('b0000000-0000-7000-8000-000000000000', 'bc000000-0000-7000-8000-000000000000', 'B customer');
insert into app.customer_notes (org_id, customer_id, body) values
  ('a0000000-0000-7000-8000-000000000000', 'ac000000-0000-7000-8000-000000000000', 'A note'),
  ('b0000000-0000-7000-8000-000000000000', 'bc000000-0000-7000-8000-000000000000', 'B note');
insert into search.customers (org_id, id, deleted, search_text) values
  ('a0000000-0000-7000-8000-000000000000', 'ac000000-0000-7000-8000-000000000000', false, 'A customer  '),
  ('b0000000-0000-7000-8000-000000000000', 'bc000000-0000-7000-8000-000000000000', false, 'B customer  ');
set local session_replication_role = origin;

-- Acting as staff of organisation A.
set local role favcrm_member;
select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "user_id": "a2000000-0000-7000-8000-000000000000", "role": "staff", "scopes": ["customers:read", "customers:write"]}');

do $$
declare
  n int;
begin
  assert (select count(*) from app.customers) = 1, 'staff of A see exactly A''s customers';
  assert (select count(*) from app.customers where id = 'bc000000-0000-7000-8000-000000000000') = 0,
    'staff of A cannot read B''s customer even by id';
  assert (select count(*) from app.customer_notes) = 1, 'staff of A see only A''s notes';

  update app.customers set name = 'renamed' where id = 'bc000000-0000-7000-8000-000000000000';
  get diagnostics n = row_count;
  assert n = 0, 'updating B''s customer changes nothing';

  update app.customers set name = 'A renamed' where id = 'ac000000-0000-7000-8000-000000000000';
  get diagnostics n = row_count;
  assert n = 1, 'A''s own customer can be updated';

  begin
    insert into app.customers (org_id, name) values ('b0000000-0000-7000-8000-000000000000', 'planted');
    assert false, 'inserting a customer into B must be refused';
  exception when insufficient_privilege then null;
  end;

  begin
    update app.customers set org_id = 'b0000000-0000-7000-8000-000000000000'
     where id = 'ac000000-0000-7000-8000-000000000000';
    assert false, 'moving a customer to B must be refused';
  exception when insufficient_privilege then null;
  end;

  begin
    delete from app.customers where id = 'ac000000-0000-7000-8000-000000000000';
    assert false, 'hard delete must be refused (deletion is soft)';
  exception when insufficient_privilege then null;
  end;

  begin
    update app.customer_notes set body = 'edited';
    assert false, 'notes are append-only';
  exception when insufficient_privilege then null;
  end;

  begin
    insert into app.customer_notes (org_id, customer_id, body)
    values ('a0000000-0000-7000-8000-000000000000', 'bc000000-0000-7000-8000-000000000000', 'note on B''s customer');
    assert false, 'a note cannot point at another organisation''s customer';
  exception when foreign_key_violation then null;
  end;
end
$$;

-- Search (search.customers has no row-level security; see V13): no member can reach the table,
-- and auth.search_customer_ids answers only the caller's organisation, following changes.
do $$
begin
  begin
    perform count(*) from search.customers;
    assert false, 'a member cannot read the search table';
  exception when insufficient_privilege then null;
  end;
  assert auth.search_customer_ids('customer', false, null, null) = '{}',
    'A''s customer was renamed, so searching A finds no "customer"; B''s is not A''s to find';
  assert auth.search_customer_ids('renamed', false, null, null) = '{ac000000-0000-7000-8000-000000000000}',
    'the rename reached the search text';
  assert (api.list_customers('{"q": "renamed"}') -> 'items' -> 0 ->> 'id') = 'ac000000-0000-7000-8000-000000000000',
    'list_customers finds it by its new name';
  update app.customers set deleted_at = now() where id = 'ac000000-0000-7000-8000-000000000000';
  assert auth.search_customer_ids('renamed', false, null, null) = '{}', 'a deleted customer leaves the search';
  assert auth.search_customer_ids('renamed', true, null, null) = '{ac000000-0000-7000-8000-000000000000}',
    'and is found among the deleted';
end
$$;
select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "user_id": "a2000000-0000-7000-8000-000000000000", "role": "staff", "scopes": ["bookings:read"]}');
do $$
begin
  perform auth.search_customer_ids('renamed', false, null, null);
  assert false, 'searching needs customers:read';
exception when insufficient_privilege then null;
end
$$;

-- The same member with no claims sees nothing at all.
select auth.set_claims('{}');
do $$
begin
  assert (select count(*) from app.customers) = 0, 'without claims no customer is visible';
  assert (select count(*) from app.customer_notes) = 0, 'without claims no note is visible';
end
$$;
rollback;
