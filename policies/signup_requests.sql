-- app.signup_requests: global (no organisation exists yet). No runtime role reaches it;
-- only the registration entry points (SECURITY DEFINER, running as favcrm_owner) do.
alter table app.signup_requests enable row level security;
alter table app.signup_requests force row level security;

create policy "the registration entry points can read requests" on app.signup_requests
  for select to favcrm_owner
  using (true);

create policy "the registration entry points can create requests" on app.signup_requests
  for insert to favcrm_owner
  with check (true);

create policy "the registration entry points can update requests" on app.signup_requests
  for update to favcrm_owner
  using (true)
  with check (true);
