-- Content (issue 16): posts and pages made of typed blocks, with a slug unique in the
-- organisation, drafts, publishing now or at a time, and web pages (publishable keys) reading
-- what is published. The operations are in sql/operations/content.sql.

create table app.posts (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  kind text not null default 'post' check (kind in ('post', 'page')),
  slug text not null check (pg_catalog.char_length(slug) between 1 and 100 and slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
  title text not null check (pg_catalog.char_length(title) between 1 and 200),
  excerpt text check (pg_catalog.char_length(excerpt) <= 500),
  blocks jsonb not null default '[]' check (pg_catalog.jsonb_typeof(blocks) = 'array'
                                             and pg_catalog.octet_length(blocks::text) <= 262144),
  status text not null default 'draft' check (status in ('draft', 'published')),
  published_at timestamptz check ((status = 'published') = (published_at is not null)),
  created_by uuid,
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  unique (org_id, slug)
);
comment on table app.posts is 'A post or a page of the organisation''s site: typed blocks (heading, text, image, service list, booking button, FAQ) under a slug unique in the organisation. Published at published_at (in the future: scheduled); web pages read only what is published by now.';
create index posts_org_id_published_idx on app.posts (org_id, kind, published_at desc) where status = 'published';

grant select, insert, update on app.posts to favcrm_member;

create trigger audit_change after insert or update or delete on app.posts
  for each row execute function audit.record_change('org_id');

-- The content scopes for keys that held every scope their holder's role allowed (see V17):
-- every role reads content; managers and above write it.
-- keys: begin
alter table app.api_keys no force row level security;
alter table app.memberships no force row level security;
alter table audit.event no force row level security;
alter table app.api_keys disable trigger audit_change;
with roles (role, had, added) as (values
  ('owner', array['approvals:decide','approvals:read','approvals:write','audit:read','billing:read','billing:write','bookings:read','bookings:write','commerce:read','commerce:write','customers:read','customers:write','keys:read','keys:write','loyalty:read','loyalty:write','messaging:read','messaging:write','organisation:read','organisation:write','reports:read','subscriptions:read','subscriptions:write','team:read','team:write','webhooks:read','webhooks:write'],
   array['content:read','content:write']),
  ('admin', array['approvals:decide','approvals:read','approvals:write','audit:read','billing:read','billing:write','bookings:read','bookings:write','commerce:read','commerce:write','customers:read','customers:write','keys:read','keys:write','loyalty:read','loyalty:write','messaging:read','messaging:write','organisation:read','organisation:write','reports:read','subscriptions:read','subscriptions:write','team:read','team:write','webhooks:read','webhooks:write'],
   array['content:read','content:write']),
  ('manager', array['approvals:decide','approvals:read','billing:read','billing:write','bookings:read','bookings:write','commerce:read','commerce:write','customers:read','customers:write','keys:read','keys:write','loyalty:read','loyalty:write','messaging:read','messaging:write','organisation:read','reports:read','subscriptions:read','subscriptions:write','team:read','team:write'],
   array['content:read','content:write']),
  ('staff', array['billing:read','bookings:read','bookings:write','commerce:read','customers:read','customers:write','loyalty:read','messaging:read','organisation:read','reports:read','subscriptions:read','team:read'],
   array['content:read'])),
candidates as (
  select k.org_id, k.id, k.scopes as before,
         array(select distinct s from pg_catalog.unnest(k.scopes || r.added) s order by s) as after
    from app.api_keys k
    join app.memberships m on m.org_id = k.org_id and m.user_id = k.user_id
    join roles r on r.role = m.role
   where k.scopes @> r.had and not k.scopes @> r.added),
changed as (
  update app.api_keys k set scopes = c.after, claims = null
    from candidates c
   where k.org_id = c.org_id and k.id = c.id
  returning k.org_id, k.id)
insert into audit.event (org_id, via, operation, table_name, row_id, action, before, after)
select c.org_id, 'migration', 'V28__create_content', 'api_keys', c.id, 'update',
       pg_catalog.jsonb_build_object('scopes', c.before), pg_catalog.jsonb_build_object('scopes', c.after)
  from candidates c join changed x on x.org_id = c.org_id and x.id = c.id;
alter table app.api_keys enable trigger audit_change;
alter table audit.event force row level security;
alter table app.api_keys force row level security;
alter table app.memberships force row level security;
-- keys: end
