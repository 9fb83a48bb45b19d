-- audit.event: owners and admins read their organisation's log; staff read none; nobody
-- can rewrite or erase it.
begin;
set local session_replication_role = replica;
insert into app.organisations (id, name) values
  ('a0000000-0000-7000-8000-000000000000', 'Org A'), ('b0000000-0000-7000-8000-000000000000', 'Org B');
insert into audit.event (org_id, table_name, action) values
  ('a0000000-0000-7000-8000-000000000000', 'customers', 'insert'),
  ('b0000000-0000-7000-8000-000000000000', 'customers', 'insert');
set local session_replication_role = origin;
set local role favcrm_member;

select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "user_id": "a1000000-0000-7000-8000-000000000000", "role": "owner", "scopes": []}');
do $$
begin
  assert (select count(*) from audit.event) = 1, 'the owner of A reads A''s events only';
  begin
    update audit.event set action = 'delete';
    assert false, 'audit events cannot be updated';
  exception when insufficient_privilege then null;
  end;
  begin
    delete from audit.event;
    assert false, 'audit events cannot be deleted';
  exception when insufficient_privilege then null;
  end;
  begin
    insert into audit.event (org_id, table_name, action) values ('a0000000-0000-7000-8000-000000000000', 'customers', 'insert');
    assert false, 'members cannot write audit events directly';
  exception when insufficient_privilege then null;
  end;
end
$$;

select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "user_id": "a2000000-0000-7000-8000-000000000000", "role": "staff", "scopes": []}');
do $$
begin
  assert (select count(*) from audit.event) = 0, 'staff cannot read the audit log';
end
$$;
rollback;
