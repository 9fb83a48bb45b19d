-- Weekly digests: managers and above read their organisation's, staff none; only the scheduler
-- (the owner role, via scheduler) writes one, for its own organisation; nobody changes one; and
-- nobody sees another organisation's.
begin;
set local session_replication_role = replica;
insert into app.organisations (id, name) values
  ('a0000000-0000-7000-8000-000000000000', 'Org A'), ('b0000000-0000-7000-8000-000000000000', 'Org B');
insert into app.report_digests (org_id, id, week_start, week_end, timezone, summary) values
  ('a0000000-0000-7000-8000-000000000000', 'ad000000-0000-7000-8000-000000000000', '2030-04-01', '2030-04-07', 'UTC', '{}'),
  ('b0000000-0000-7000-8000-000000000000', 'bd000000-0000-7000-8000-000000000000', '2030-04-01', '2030-04-07', 'UTC', '{}');
set local session_replication_role = origin;
set local role favcrm_member;

select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "role": "staff", "scopes": []}');
do $$
begin
  assert (select count(*) from app.report_digests) = 0, 'staff see no digests';
end
$$;

select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "role": "manager", "scopes": []}');
do $$
begin
  assert (select pg_catalog.array_agg(id) from app.report_digests) = array['ad000000-0000-7000-8000-000000000000'::uuid],
    'a manager sees their organisation''s digest only';
end
$$;

-- An owner's request writes no digest: only the scheduler does.
select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "role": "owner", "scopes": [], "via": "rest"}');
do $$
begin
  begin
    insert into app.report_digests (org_id, week_start, week_end, timezone, summary)
    values ('a0000000-0000-7000-8000-000000000000', '2030-04-08', '2030-04-14', 'UTC', '{}');
    assert false, 'a request writes no digest';
  exception when insufficient_privilege then null;
  end;
end
$$;

select auth.act_for_scheduler('a0000000-0000-7000-8000-000000000000', 'make_weekly_digest');
do $$
begin
  insert into app.report_digests (org_id, week_start, week_end, timezone, summary)
  values ('a0000000-0000-7000-8000-000000000000', '2030-04-08', '2030-04-14', 'UTC', '{}');
  begin
    insert into app.report_digests (org_id, week_start, week_end, timezone, summary)
    values ('b0000000-0000-7000-8000-000000000000', '2030-04-08', '2030-04-14', 'UTC', '{}');
    assert false, 'the scheduler acting for A writes no digest of B''s';
  exception when insufficient_privilege then null;
  end;
  begin
    update app.report_digests set summary = '{"forged": true}';
    assert false, 'nobody changes a digest';
  exception when insufficient_privilege then null;
  end;
  begin
    delete from app.report_digests;
    assert false, 'nobody deletes a digest';
  exception when insufficient_privilege then null;
  end;
end
$$;
rollback;
