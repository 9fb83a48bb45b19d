-- app.channels: how the organisation reaches customers, with its sealed credentials. Admins and
-- owners see channels (never a secret through the API); only owners connect and disconnect
-- them. Nobody deletes a row (a disconnected channel stays, its credentials forgotten).
alter table app.channels enable row level security;
alter table app.channels force row level security;

create policy "admins and owners read their organisation's channels" on app.channels
  for select to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin'));

create policy "owners connect channels" on app.channels
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) = 'owner');

create policy "owners change and disconnect channels" on app.channels
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) = 'owner')
  with check (org_id = (select auth.org_id()) and (select auth.role()) = 'owner');

-- auth.channel_connected (as the owner role) tells any member's message whether its channel is
-- connected, in the claimed organisation only.
create policy "the channel check reads the claimed organisation's channels" on app.channels
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));
