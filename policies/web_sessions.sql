-- app.web_sessions: global (a person across organisations). No runtime role reaches it; only
-- the sign-in entry points (SECURITY DEFINER, as favcrm_owner) do, by the browser's secret.
alter table app.web_sessions enable row level security;
alter table app.web_sessions force row level security;

create policy "the sign-in entry points can read sessions" on app.web_sessions
  for select to favcrm_owner
  using (true);

create policy "the sign-in entry points can start sessions" on app.web_sessions
  for insert to favcrm_owner
  with check (true);

create policy "the sign-in entry points can update sessions" on app.web_sessions
  for update to favcrm_owner
  using (true)
  with check (true);

create policy "the sign-in entry points can replace and purge sessions" on app.web_sessions
  for delete to favcrm_owner
  using (true);
