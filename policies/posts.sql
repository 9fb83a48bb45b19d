-- app.posts: the organisation's site content. Every member reads its posts and pages (drafts
-- too); managers and above write and publish them. Web pages (auth.publishable_call, as the
-- owner role) read only what is published by now: a draft, or a post scheduled for later, is
-- invisible to a publishable key whatever the function asks for. Nobody deletes one (unpublish).
alter table app.posts enable row level security;
alter table app.posts force row level security;

create policy "members read their organisation's posts" on app.posts
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "managers and above write posts" on app.posts
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above change and publish posts" on app.posts
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'))
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "web pages read the claimed organisation's published posts" on app.posts
  for select to favcrm_owner
  using (org_id = (select auth.org_id()) and status = 'published' and published_at <= pg_catalog.now());
