-- Reports read an organisation's rows by date (issue 16's load test: loadtest/reports.sh): these
-- indexes let every such read start at the organisation and the range, so a report never reads
-- another organisation's rows and a year of one organisation's reads only that year.

create index customers_org_id_created_at_idx on app.customers (org_id, created_at);
create index customers_org_id_lifecycle_stage_idx on app.customers (org_id, lifecycle_stage) where deleted_at is null;
create index invoices_org_id_finalized_at_idx on app.invoices (org_id, finalized_at) where finalized_at is not null;
create index invoices_org_id_due_date_idx on app.invoices (org_id, due_date) where finalized_at is not null;
create index payments_org_id_received_on_idx on app.payments (org_id, received_on);
create index credit_notes_org_id_created_at_idx on app.credit_notes (org_id, created_at);
create index refunds_org_id_created_at_idx on app.refunds (org_id, created_at);
