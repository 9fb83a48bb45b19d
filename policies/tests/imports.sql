-- Customer imports: managers and above of an organisation start, read and commit its imports and
-- their rows; staff see none and start none; nobody sees or changes another organisation's;
-- nobody deletes one (only the purge entry point, of expired previews).
begin;
set local session_replication_role = replica;
insert into app.organisations (id, name) values
  ('a0000000-0000-7000-8000-000000000000', 'Org A'), ('b0000000-0000-7000-8000-000000000000', 'Org B');
insert into app.customer_imports (org_id, id, status, format, previewed_at) values
  ('a0000000-0000-7000-8000-000000000000', 'a9000000-0000-7000-8000-000000000001', 'previewed', 'csv', now()),
  ('b0000000-0000-7000-8000-000000000000', 'b9000000-0000-7000-8000-000000000001', 'previewed', 'csv', now());
insert into app.customer_import_rows (org_id, import_id, line, raw) values
  ('a0000000-0000-7000-8000-000000000000', 'a9000000-0000-7000-8000-000000000001', 1, '{"name": "Ann"}'),
  ('b0000000-0000-7000-8000-000000000000', 'b9000000-0000-7000-8000-000000000001', 1, '{"name": "Bea"}');
set local session_replication_role = origin;

set local role favcrm_member;
select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "role": "staff", "scopes": []}');
do $$
begin
  assert (select count(*) from app.customer_imports) = 0, 'staff see no import';
  assert (select count(*) from app.customer_import_rows) = 0, 'staff see no import row';
  begin
    insert into app.customer_imports (org_id, format) values ('a0000000-0000-7000-8000-000000000000', 'csv');
    assert false, 'staff start no import';
  exception when insufficient_privilege then null;
  end;
  update app.customer_imports set status = 'committed', committed_at = now();
  assert not found, 'staff commit no import';
end
$$;

select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "role": "manager", "scopes": []}');
do $$
begin
  assert (select array_agg(id::text) from app.customer_imports) = array['a9000000-0000-7000-8000-000000000001'],
    'a manager sees their organisation''s imports only';
  assert (select array_agg(raw ->> 'name') from app.customer_import_rows) = array['Ann'],
    'and only their rows';
  insert into app.customer_imports (org_id, format) values ('a0000000-0000-7000-8000-000000000000', 'json');
  begin
    insert into app.customer_imports (org_id, format) values ('b0000000-0000-7000-8000-000000000000', 'csv');
    assert false, 'a manager of A starts no import in B';
  exception when insufficient_privilege then null;
  end;
  begin
    insert into app.customer_import_rows (org_id, import_id, line, raw)
    values ('b0000000-0000-7000-8000-000000000000', 'b9000000-0000-7000-8000-000000000001', 2, '{"name": "Planted"}');
    assert false, 'a manager of A stages no row in B''s import';
  exception when insufficient_privilege then null;
  end;
  update app.customer_import_rows set action = 'create' where import_id = 'b9000000-0000-7000-8000-000000000001';
  assert not found, 'a manager of A decides no row of B''s';
  begin
    delete from app.customer_imports;
    assert false, 'nobody deletes an import';
  exception when insufficient_privilege then null;
  end;
end
$$;
rollback;
