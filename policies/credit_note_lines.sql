-- app.credit_note_lines: managers and above read and add their organisation's credit note lines; staff never see
-- them. Append-only: no UPDATE or DELETE policy.
alter table app.credit_note_lines enable row level security;
alter table app.credit_note_lines force row level security;

create policy "managers and above read credit note lines" on app.credit_note_lines
  for select to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above add credit note lines" on app.credit_note_lines
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));
