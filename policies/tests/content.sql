-- Posts and pages: every member reads their organisation's (drafts too), managers and above
-- write them, staff do not; web pages (the owner role, through auth.publishable_call) see only
-- what is live — not a draft, not a post scheduled for later; nobody sees another organisation's
-- or deletes one.
begin;
set local session_replication_role = replica;
insert into app.organisations (id, name) values
  ('a0000000-0000-7000-8000-000000000000', 'Org A'), ('b0000000-0000-7000-8000-000000000000', 'Org B');
insert into app.posts (org_id, id, slug, title, status, published_at) values
  ('a0000000-0000-7000-8000-000000000000', 'ae000000-0000-7000-8000-000000000001', 'live', 'Live', 'published', now() - interval '1 day'),
  ('a0000000-0000-7000-8000-000000000000', 'ae000000-0000-7000-8000-000000000002', 'draft', 'Draft', 'draft', null),
  ('a0000000-0000-7000-8000-000000000000', 'ae000000-0000-7000-8000-000000000003', 'later', 'Later', 'published', now() + interval '1 day'),
  ('b0000000-0000-7000-8000-000000000000', 'be000000-0000-7000-8000-000000000001', 'live', 'B live', 'published', now() - interval '1 day');
set local session_replication_role = origin;

set local role favcrm_member;
select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "role": "staff", "scopes": []}');
do $$
begin
  assert (select count(*) from app.posts) = 3, 'staff read their organisation''s posts, drafts too';
  begin
    insert into app.posts (org_id, slug, title) values ('a0000000-0000-7000-8000-000000000000', 'mine', 'Mine');
    assert false, 'staff write no post';
  exception when insufficient_privilege then null;
  end;
  update app.posts set title = 'Changed';
  assert not found, 'staff change no post';
end
$$;

select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "role": "manager", "scopes": []}');
do $$
begin
  insert into app.posts (org_id, slug, title) values ('a0000000-0000-7000-8000-000000000000', 'new', 'New');
  begin
    insert into app.posts (org_id, slug, title) values ('b0000000-0000-7000-8000-000000000000', 'new', 'Planted');
    assert false, 'a manager of A writes no post of B''s';
  exception when insufficient_privilege then null;
  end;
  update app.posts set title = 'Renamed' where id = 'be000000-0000-7000-8000-000000000001';
  assert not found, 'a manager of A changes no post of B''s';
  begin
    delete from app.posts;
    assert false, 'nobody deletes a post';
  exception when insufficient_privilege then null;
  end;
end
$$;

-- A web page of A's, as auth.publishable_call runs it.
reset role;
select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "role": "public", "scopes": []}');
set local role favcrm_owner;
do $$
begin
  assert (select pg_catalog.array_agg(slug) from app.posts) = array['live'],
    'a web page sees only what is live, and only its organisation''s';
end
$$;
rollback;
