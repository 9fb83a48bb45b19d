-- app.account_mail: global (mail about a person's account, before or outside any
-- organisation). No runtime role reaches it; only the registration and invitation entry points
-- (which write it) and the outbox worker's doors (which claim and record it), SECURITY DEFINER
-- as favcrm_owner, do.
alter table app.account_mail enable row level security;
alter table app.account_mail force row level security;

create policy "the account mail entry points can read mail" on app.account_mail
  for select to favcrm_owner
  using (true);

create policy "the account mail entry points can queue mail" on app.account_mail
  for insert to favcrm_owner
  with check (true);

create policy "the account mail entry points can update mail" on app.account_mail
  for update to favcrm_owner
  using (true)
  with check (true);
