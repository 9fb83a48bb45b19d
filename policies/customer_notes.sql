-- app.customer_notes: append-only for members (no UPDATE or DELETE policy).
alter table app.customer_notes enable row level security;
alter table app.customer_notes force row level security;

create policy "members can read their organisation's customer notes" on app.customer_notes
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "members can add notes in their organisation" on app.customer_notes
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()));
