-- Reports: each one function over the real tables, read-only, in the organisation's time zone.
--
-- The rules, once:
--   * Every role reads reports (reports:read). Managers and above see the whole organisation.
--     Staff see only what concerns their own bookings and invoices, or nothing when the
--     organisation says so (app.organisations.staff_reports); what row-level security hides
--     from them (billing, unless staff_billing_access) stays hidden in reports too, because the
--     reports run as the caller.
--   * Dates are the organisation's: "today", due dates and ranges are read in its time zone.

-- Who a report is about for the caller: NULL for the whole organisation (managers and above),
-- the staff member's own user id, or a refusal when the organisation shows staff no reports.
create function app.report_subject() returns uuid
language plpgsql stable set search_path = '' as $$
begin
  perform auth.require_scope('reports:read');
  if auth.role_rank(auth.role()) >= auth.role_rank('manager') then
    return null;
  end if;
  if (select o.staff_reports from app.organisations o where o.id = auth.org_id()) = 'none' then
    raise exception using errcode = '42501', hint = 'staff_reports_off',
      message = 'The organisation shows staff no reports (reporting.staffReports: none).';
  end if;
  return auth.user_id();
end
$$;
comment on function app.report_subject() is 'NULL for a caller who sees the whole organisation''s reports (managers and above); a staff member''s user id when they see their own; 42501 staff_reports_off otherwise.';
grant execute on function app.report_subject() to favcrm_member;

-- The ageing buckets of overdue invoices, by days past the due date.
create function app.ageing_bucket(p_days int) returns text
language sql immutable parallel safe as $$
  select case when p_days <= 30 then '1-30' when p_days <= 60 then '31-60' when p_days <= 90 then '61-90' else '90+' end
$$;
comment on function app.ageing_bucket(int) is 'The ageing bucket of an invoice so many days overdue: 1-30, 31-60, 61-90, 90+.';
grant execute on function app.ageing_bucket(int) to favcrm_member;

create function api.report_overdue_invoices(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_subject uuid := app.report_subject();
  v_as_of date := coalesce((p ->> 'asOf')::date, app.billing_today());
  v_limit int := coalesce((p ->> 'limit')::int, 50);
begin
  return (
    with overdue as (
      select i.id, i.number, i.customer_id, c.name as customer_name, i.currency, i.due_date,
             (v_as_of - i.due_date) as days, app.invoice_amount_due(i) as due
        from app.invoices i
        join app.customers c on c.org_id = i.org_id and c.id = i.customer_id
       where i.org_id = auth.org_id() and i.status = 'open' and i.due_date < v_as_of
         and app.invoice_amount_due(i) > 0
         and (v_subject is null or i.staff_user_id = v_subject)),
    buckets (bucket, position) as (values ('1-30', 1), ('31-60', 2), ('61-90', 3), ('90+', 4)),
    currencies as (select distinct currency from overdue)
    select pg_catalog.jsonb_build_object(
      'asOf', v_as_of,
      'currencies', coalesce((
        select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                 'currency', cur.currency,
                 'count', (select pg_catalog.count(*) from overdue o where o.currency = cur.currency),
                 'amountDue', app.money((select pg_catalog.sum(o.due) from overdue o where o.currency = cur.currency)::bigint,
                                        cur.currency),
                 'buckets', (select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                                      'bucket', x.bucket, 'count', x.n,
                                      'amountDue', app.money(x.due, cur.currency))
                                    order by x.position)
                               from (select b.bucket, b.position, pg_catalog.count(o.id) as n,
                                            coalesce(pg_catalog.sum(o.due), 0)::bigint as due
                                       from buckets b
                                       left join overdue o
                                         on o.currency = cur.currency and app.ageing_bucket(o.days) = b.bucket
                                      group by b.bucket, b.position) x))
               order by cur.currency)
          from currencies cur), '[]'::jsonb),
      'invoices', coalesce((
        select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                 'invoiceId', o.id, 'number', o.number, 'customerId', o.customer_id,
                 'customerName', o.customer_name, 'dueDate', o.due_date, 'daysOverdue', o.days,
                 'bucket', app.ageing_bucket(o.days), 'amountDue', app.money(o.due, o.currency))
               order by o.days desc, o.number)
          from (select * from overdue order by days desc, number limit v_limit) o), '[]'::jsonb),
      'more', (select pg_catalog.count(*) from overdue) > v_limit));
end
$$;
comment on function api.report_overdue_invoices(jsonb) is 'Open invoices past their due date as of a day in the organisation''s time zone (today unless given): count and amount due per currency, in ageing buckets 1-30, 31-60, 61-90 and 90+ days, and the most overdue invoices first.';
grant execute on function api.report_overdue_invoices(jsonb) to favcrm_member;
