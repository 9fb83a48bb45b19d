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

-- Invoices overdue at the end of a day: finalised by then, neither voided nor written off by
-- then, due before it, and still owed something then: its total, less the credit notes issued
-- (less what they moved to the credit balance) and the payments received by then, plus the
-- refunds made by then (app.invoice_amount_due, as it stood then), worked out for all of them at
-- once, not invoice by invoice.
create function app.overdue_on(p_day date, p_tz text, p_subject uuid)
returns table (id uuid, number text, customer_id uuid, currency text, due_date date, days int, due bigint)
language sql stable set search_path = '' as $$
  with
  bounds as (select auth.org_id() as org, (p_day + 1)::timestamp at time zone p_tz as at_end),
  candidates as (
    select i.id, i.number, i.customer_id, i.currency, i.due_date, i.total_amount
      from app.invoices i, bounds b
     where i.org_id = b.org and i.due_date < p_day and i.finalized_at is not null
       and i.finalized_at < b.at_end
       and (i.voided_at is null or i.voided_at >= b.at_end)
       and (i.uncollectible_at is null or i.uncollectible_at >= b.at_end)
       and i.status in ('open', 'paid', 'void', 'uncollectible')
       and (p_subject is null or i.staff_user_id = p_subject)),
  paid as (
    select pm.invoice_id, pg_catalog.sum(pm.amount) as amount
      from app.payments pm, bounds b
     where pm.org_id = b.org and pm.received_on <= p_day and pm.invoice_id in (select c.id from candidates c)
     group by pm.invoice_id),
  credited as (
    select cn.invoice_id, pg_catalog.sum(cn.amount - cn.balance_amount) as amount
      from app.credit_notes cn, bounds b
     where cn.org_id = b.org and cn.created_at < b.at_end and cn.invoice_id in (select c.id from candidates c)
     group by cn.invoice_id),
  refunded as (
    select rf.invoice_id, pg_catalog.sum(rf.amount) as amount
      from app.refunds rf, bounds b
     where rf.org_id = b.org and rf.status = 'succeeded' and rf.created_at < b.at_end
       and rf.invoice_id in (select c.id from candidates c)
     group by rf.invoice_id)
  select x.id, x.number, x.customer_id, x.currency, x.due_date, x.days, x.due
    from (select c.id, c.number, c.customer_id, c.currency, c.due_date, (p_day - c.due_date) as days,
                 (c.total_amount - coalesce(cr.amount, 0) - coalesce(pd.amount, 0) + coalesce(rf.amount, 0))::bigint as due
            from candidates c
            left join paid pd on pd.invoice_id = c.id
            left join credited cr on cr.invoice_id = c.id
            left join refunded rf on rf.invoice_id = c.id) x
   where x.due > 0
$$;
comment on function app.overdue_on(date, text, uuid) is 'The invoices overdue at the end of a day in the organisation''s zone, with how many days and what was owed then.';
grant execute on function app.overdue_on(date, text, uuid) to favcrm_member;

create function api.report_overdue_invoices(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_subject uuid := app.report_subject();
  v_tz text := (select o.timezone from app.organisations o where o.id = auth.org_id());
  v_as_of date := coalesce((p ->> 'asOf')::date, app.billing_today());
  v_compare date := coalesce((p ->> 'compareTo')::date, v_as_of - 30);
  v_limit int := coalesce((p ->> 'limit')::int, 50);
begin
  if v_compare >= v_as_of then
    perform app.raise_invalid('compareTo', 'invalid_range', 'compareTo must be before asOf.');
  end if;
  return (
    with overdue as materialized (select o.* from app.overdue_on(v_as_of, v_tz, v_subject) o),
    earlier as materialized (select * from app.overdue_on(v_compare, v_tz, v_subject)),
    buckets (bucket, position) as (values ('1-30', 1), ('31-60', 2), ('61-90', 3), ('90+', 4)),
    currencies as (select distinct currency from overdue union select distinct currency from earlier)
    select pg_catalog.jsonb_build_object(
      'asOf', v_as_of,
      'currencies', coalesce((
        select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                 'currency', cur.currency,
                 'count', (select pg_catalog.count(*) from overdue o where o.currency = cur.currency),
                 'amountDue', app.money(coalesce((select pg_catalog.sum(o.due) from overdue o
                                                   where o.currency = cur.currency), 0)::bigint, cur.currency),
                 'buckets', (select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                                      'bucket', x.bucket, 'count', x.n,
                                      'amountDue', app.money(x.due, cur.currency))
                                    order by x.position)
                               from (select b.bucket, b.position, pg_catalog.count(o.id) as n,
                                            coalesce(pg_catalog.sum(o.due), 0)::bigint as due
                                       from buckets b
                                       left join overdue o
                                         on o.currency = cur.currency and app.ageing_bucket(o.days) = b.bucket
                                      group by b.bucket, b.position) x),
                 'comparison', pg_catalog.jsonb_build_object(
                   'asOf', v_compare,
                   'count', (select pg_catalog.count(*) from earlier e where e.currency = cur.currency),
                   'amountDue', app.money(coalesce((select pg_catalog.sum(e.due) from earlier e
                                                     where e.currency = cur.currency), 0)::bigint, cur.currency)))
               order by cur.currency)
          from currencies cur), '[]'::jsonb),
      'invoices', coalesce((
        select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                 'invoiceId', o.id, 'number', o.number, 'customerId', o.customer_id,
                 'customerName', (select c.name from app.customers c
                                   where c.org_id = auth.org_id() and c.id = o.customer_id),
                 'dueDate', o.due_date, 'daysOverdue', o.days,
                 'bucket', app.ageing_bucket(o.days), 'amountDue', app.money(o.due, o.currency))
               order by o.days desc, o.number)
          from (select * from overdue order by days desc, number limit v_limit) o), '[]'::jsonb),
      'more', (select pg_catalog.count(*) from overdue) > v_limit));
end
$$;
comment on function api.report_overdue_invoices(jsonb) is 'Invoices past their due date at the end of a day in the organisation''s time zone (today unless given), with what was owed then: count and amount due per currency, in ageing buckets 1-30, 31-60, 61-90 and 90+ days, the same at an earlier day (compareTo, default 30 days before), and the most overdue invoices first.';
grant execute on function api.report_overdue_invoices(jsonb) to favcrm_member;

-- The periods of a report: each day, week (starting on the organisation's first weekday) or
-- month that meets the range from p_from to p_to (dates in the organisation's zone), with the
-- part of it inside the range.
create function app.report_periods(p_from date, p_to date, p_group text) returns table (starts date, ends date)
language sql stable set search_path = '' as $$
  with o as (select o.week_starts_on from app.organisations o where o.id = auth.org_id()),
  first as (
    select case p_group
             when 'week' then p_from - ((extract(isodow from p_from)::int - o.week_starts_on + 7) % 7)
             when 'month' then pg_catalog.date_trunc('month', p_from)::date
             else p_from end as d
      from o)
  select greatest(s.d, p_from),
         least(case p_group when 'week' then s.d + 6
                            when 'month' then (s.d + interval '1 month')::date - 1
                            else s.d end, p_to)
    from first,
         lateral (select g::date as d
                    from pg_catalog.generate_series(first.d, p_to,
                           case p_group when 'week' then interval '1 week' when 'month' then interval '1 month'
                                        else interval '1 day' end) g) s
$$;
comment on function app.report_periods(date, date, text) is 'The day, week (from the organisation''s first weekday) or month periods meeting a date range, each cut to the range.';
grant execute on function app.report_periods(date, date, text) to favcrm_member;

-- A report's range, checked: from and to (inclusive) in the organisation's zone, at most 366
-- days; the previous period is as long and ends the day before.
create function app.report_range(p jsonb, p_default_days int) returns table (from_date date, to_date date, prev_from date, prev_to date, tz text)
language plpgsql stable set search_path = '' as $$
declare
  v_tz text := (select o.timezone from app.organisations o where o.id = auth.org_id());
  v_today date := (pg_catalog.now() at time zone v_tz)::date;
  v_to date := coalesce((p ->> 'to')::date, v_today);
  v_from date := coalesce((p ->> 'from')::date, v_to - (p_default_days - 1));
begin
  if v_from > v_to then
    perform app.raise_invalid('from', 'invalid_range', 'from must be on or before to.');
  elsif v_to - v_from >= 366 then
    perform app.raise_invalid('to', 'range_too_long', 'A report covers at most 366 days; ask for several.');
  end if;
  return query select v_from, v_to, v_from - (v_to - v_from + 1), v_from - 1, v_tz;
end
$$;
comment on function app.report_range(jsonb, int) is 'A report''s from and to dates (inclusive, the organisation''s zone; to defaults to today, from to so many days before), at most 366 days, and the previous period of the same length.';
grant execute on function app.report_range(jsonb, int) to favcrm_member;

-- The change from a previous figure to this one, in percent (one decimal), or NULL from zero.
create function app.report_change(p_now numeric, p_before numeric) returns numeric
language sql immutable parallel safe as $$
  select case when p_before = 0 then null else pg_catalog.round((p_now - p_before) * 100 / abs(p_before), 1) end
$$;
comment on function app.report_change(numeric, numeric) is 'The change from a previous figure, in percent with one decimal; NULL when the previous figure is 0.';
grant execute on function app.report_change(numeric, numeric) to favcrm_member;

create function api.report_revenue(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_subject uuid := app.report_subject();
  r record;
  v_group text := coalesce(p ->> 'groupBy', 'day');
  v_by text := p ->> 'breakdown';
  v_currency text;
  v_result jsonb;
begin
  select * into r from app.report_range(p, 7);
  v_currency := coalesce(pg_catalog.upper(p ->> 'currency'),
                         (select o.default_currency from app.organisations o where o.id = auth.org_id()));
  with
  -- Each money movement once, on its day in the organisation's zone.
  invoiced as (
    select (i.finalized_at at time zone r.tz)::date as day, i.total_amount as amount
      from app.invoices i
     where i.org_id = auth.org_id() and i.currency = v_currency and i.finalized_at is not null
       and i.status <> 'void'
       and i.finalized_at >= (r.prev_from::timestamp at time zone r.tz)
       and i.finalized_at < ((r.to_date + 1)::timestamp at time zone r.tz)
       and (v_subject is null or i.staff_user_id = v_subject)),
  credited as (
    select (cn.created_at at time zone r.tz)::date as day, cn.amount
      from app.credit_notes cn
     where cn.org_id = auth.org_id() and cn.currency = v_currency
       and cn.created_at >= (r.prev_from::timestamp at time zone r.tz)
       and cn.created_at < ((r.to_date + 1)::timestamp at time zone r.tz)
       and (v_subject is null or cn.staff_user_id = v_subject)),
  collected as (
    select pm.received_on as day, pm.amount
      from app.payments pm
     where pm.org_id = auth.org_id() and pm.currency = v_currency and pm.method <> 'credit_balance'
       and pm.received_on between r.prev_from and r.to_date
       and (v_subject is null or pm.staff_user_id = v_subject)),
  refunded as (
    select (rf.created_at at time zone r.tz)::date as day, rf.amount
      from app.refunds rf
     where rf.org_id = auth.org_id() and rf.currency = v_currency and rf.status = 'succeeded'
       and rf.created_at >= (r.prev_from::timestamp at time zone r.tz)
       and rf.created_at < ((r.to_date + 1)::timestamp at time zone r.tz)
       and (v_subject is null or rf.staff_user_id = v_subject)),
  movements (day, invoiced, credited, collected, refunded) as (
    select day, amount, 0::bigint, 0::bigint, 0::bigint from invoiced
    union all select day, 0, amount, 0, 0 from credited
    union all select day, 0, 0, amount, 0 from collected
    union all select day, 0, 0, 0, amount from refunded),
  -- Summed per day first (at most 732 rows), so that periods add up days, not movements.
  daily as (
    select m.day, pg_catalog.sum(m.invoiced) as invoiced, pg_catalog.sum(m.credited) as credited,
           pg_catalog.sum(m.collected) as collected, pg_catalog.sum(m.refunded) as refunded
      from movements m group by m.day),
  figures as (
    select per.starts, per.ends,
           coalesce(pg_catalog.sum(m.invoiced), 0)::bigint as invoiced,
           coalesce(pg_catalog.sum(m.credited), 0)::bigint as credited,
           coalesce(pg_catalog.sum(m.collected), 0)::bigint as collected,
           coalesce(pg_catalog.sum(m.refunded), 0)::bigint as refunded
      from app.report_periods(r.from_date, r.to_date, v_group) per
      left join daily m on m.day between per.starts and per.ends
     group by per.starts, per.ends),
  now_totals as (
    select coalesce(pg_catalog.sum(m.invoiced), 0)::bigint as invoiced, coalesce(pg_catalog.sum(m.credited), 0)::bigint as credited,
           coalesce(pg_catalog.sum(m.collected), 0)::bigint as collected, coalesce(pg_catalog.sum(m.refunded), 0)::bigint as refunded
      from daily m where m.day between r.from_date and r.to_date),
  before_totals as (
    select coalesce(pg_catalog.sum(m.invoiced), 0)::bigint as invoiced, coalesce(pg_catalog.sum(m.credited), 0)::bigint as credited,
           coalesce(pg_catalog.sum(m.collected), 0)::bigint as collected, coalesce(pg_catalog.sum(m.refunded), 0)::bigint as refunded
      from daily m where m.day between r.prev_from and r.prev_to)
  select pg_catalog.jsonb_build_object(
    'from', r.from_date, 'to', r.to_date, 'timezone', r.tz, 'groupBy', v_group, 'currency', v_currency,
    'totals', app.revenue_figures(t.invoiced, t.credited, t.collected, t.refunded, v_currency),
    'periods', coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('start', f.starts, 'end', f.ends)
                                                  || app.revenue_figures(f.invoiced, f.credited, f.collected, f.refunded, v_currency)
                                                  order by f.starts) from figures f), '[]'::jsonb),
    'comparison', pg_catalog.jsonb_build_object(
      'from', r.prev_from, 'to', r.prev_to,
      'totals', app.revenue_figures(b.invoiced, b.credited, b.collected, b.refunded, v_currency),
      'changePercent', pg_catalog.jsonb_build_object(
        'invoiced', app.report_change(t.invoiced, b.invoiced),
        'collected', app.report_change(t.collected, b.collected),
        'refunded', app.report_change(t.refunded, b.refunded),
        'net', app.report_change(t.collected - t.refunded, b.collected - b.refunded))))
    into v_result
    from now_totals t, before_totals b;
  if v_by is not null then
    v_result := v_result || pg_catalog.jsonb_build_object('breakdown', app.revenue_breakdown(v_by, r.from_date, r.to_date,
                                                                                              r.tz, v_currency, v_subject));
  end if;
  return v_result;
end
$$;
comment on function api.report_revenue(jsonb) is 'Revenue over a range of days in the organisation''s zone, per day, week or month: invoiced (finalised, not voided), credited (credit notes), collected (payments received, not from the credit balance), refunded, and net (collected − refunded); the previous period of the same length beside it; optionally what was invoiced by service, product or staff.';
grant execute on function api.report_revenue(jsonb) to favcrm_member;

create function app.revenue_figures(p_invoiced bigint, p_credited bigint, p_collected bigint, p_refunded bigint, p_currency text)
returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'invoiced', app.money(p_invoiced, p_currency),
    'credited', app.money(p_credited, p_currency),
    'collected', app.money(p_collected, p_currency),
    'refunded', app.money(p_refunded, p_currency),
    'net', app.money(p_collected - p_refunded, p_currency))
$$;
comment on function app.revenue_figures(bigint, bigint, bigint, bigint, text) is 'A period''s revenue figures as money: invoiced, credited, collected, refunded, net.';
grant execute on function app.revenue_figures(bigint, bigint, bigint, bigint, text) to favcrm_member;

-- What was invoiced in the range by service, product or staff member: the lines of invoices
-- finalised then (not voided), biggest first.
create function app.revenue_breakdown(p_by text, p_from date, p_to date, p_tz text, p_currency text, p_subject uuid)
returns jsonb
language sql stable set search_path = '' as $$
  select pg_catalog.jsonb_build_object('by', p_by, 'items', coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'id', x.key, 'name', x.name, 'lines', x.lines, 'quantity', x.quantity,
           'invoiced', app.money(x.amount, p_currency)) order by x.amount desc, x.name), '[]'::jsonb))
    from (select case p_by when 'service' then l.service_id when 'product' then l.product_id
                           else coalesce(l.staff_user_id, i.staff_user_id) end as key,
                 pg_catalog.min(case p_by when 'service' then s.name when 'product' then pr.name else st.name end) as name,
                 pg_catalog.count(*) as lines, pg_catalog.sum(l.quantity) as quantity,
                 pg_catalog.sum(l.total_amount)::bigint as amount
            from app.invoices i
            join app.invoice_lines l on l.org_id = i.org_id and l.invoice_id = i.id
            left join app.services s on p_by = 'service' and s.org_id = l.org_id and s.id = l.service_id
            left join app.products pr on p_by = 'product' and pr.org_id = l.org_id and pr.id = l.product_id
            left join app.staff st on p_by = 'staff' and st.org_id = i.org_id
                                  and st.user_id = coalesce(l.staff_user_id, i.staff_user_id)
           where i.org_id = auth.org_id() and i.currency = p_currency and i.finalized_at is not null
             and i.status <> 'void'
             and i.finalized_at >= (p_from::timestamp at time zone p_tz)
             and i.finalized_at < ((p_to + 1)::timestamp at time zone p_tz)
             and (p_subject is null or i.staff_user_id = p_subject)
           group by 1) x
$$;
comment on function app.revenue_breakdown(text, date, date, text, text, uuid) is 'What was invoiced in a range by service, product or staff member (lines of finalised, not voided invoices), biggest first; lines with none are grouped under a null id.';
grant execute on function app.revenue_breakdown(text, date, date, text, text, uuid) to favcrm_member;

-- A staff member's working time over a range of days, as instants: each day's working ranges
-- (one-off hours, else the weekly ones) read as wall-clock time in the organisation's zone (so
-- a day of the clock change is an hour shorter or longer), without time off and closed days.
create function app.working_time(p_staff uuid, p_from date, p_to date, p_tz text) returns tstzmultirange
language sql stable set search_path = '' as $$
  select coalesce(pg_catalog.range_agg(pg_catalog.tstzrange((d.day + h.start_time) at time zone p_tz,
                                                            (d.day + h.end_time) at time zone p_tz)),
                  '{}'::tstzmultirange)
         - coalesce((select pg_catalog.range_agg(t.period) from app.time_off t
                      where t.org_id = auth.org_id() and t.staff_id = p_staff
                        and t.period && pg_catalog.tstzrange(p_from::timestamp at time zone p_tz,
                                                             (p_to + 1)::timestamp at time zone p_tz)),
                    '{}'::tstzmultirange)
    from (select g::date as day from pg_catalog.generate_series(p_from, p_to, interval '1 day') g) d
    cross join lateral app.hours_on(auth.org_id(), p_staff, d.day) h
   where not exists (select from app.closures c
                      where c.org_id = auth.org_id() and d.day between c.starts_on and c.ends_on)
$$;
comment on function app.working_time(uuid, date, date, text) is 'A staff member''s working time over a range of days as instants (wall-clock hours in the organisation''s zone), less time off and closed days.';
grant execute on function app.working_time(uuid, date, date, text) to favcrm_member;

-- The minutes in a multirange.
create function app.minutes(p tstzmultirange) returns bigint
language sql immutable parallel safe as $$
  select coalesce(pg_catalog.sum(extract(epoch from pg_catalog.upper(r) - pg_catalog.lower(r)))::bigint / 60, 0)
    from pg_catalog.unnest(p) r
$$;
comment on function app.minutes(tstzmultirange) is 'How many minutes a multirange of instants covers.';
grant execute on function app.minutes(tstzmultirange) to favcrm_member;

create function api.report_bookings(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_subject uuid := app.report_subject();
  r record;
  v_group text := coalesce(p ->> 'groupBy', 'day');
  v_result jsonb;
begin
  select * into r from app.report_range(p, 7);
  with
  -- Each booking once, on the day it starts in the organisation's zone, with what became of it.
  -- A booking moved to another time was cancelled as "rescheduled" and has a successor: it counts
  -- as rescheduled, never as a cancellation.
  booked as (
    select (b.starts_at at time zone r.tz)::date as day, b.staff_id,
           case when b.status = 'cancelled' and exists (select from app.bookings n where n.org_id = b.org_id
                                                                                    and n.rescheduled_from_id = b.id)
                then 'rescheduled' else b.status end as outcome,
           coalesce(b.late_cancel, false) as late,
           extract(epoch from b.ends_at - b.starts_at)::bigint / 60 as minutes
      from app.bookings b
     where b.org_id = auth.org_id()
       and b.starts_at >= (r.prev_from::timestamp at time zone r.tz)
       and b.starts_at < ((r.to_date + 1)::timestamp at time zone r.tz)
       and (v_subject is null or b.staff_id in (select st.id from app.staff st
                                                  where st.org_id = auth.org_id() and st.user_id = v_subject))),
  periods as (
    select per.starts, per.ends from app.report_periods(r.from_date, r.to_date, v_group) per
    union select r.from_date, r.to_date   -- the totals (once, if a period is the whole range)
    union select r.prev_from, r.prev_to), -- the previous period's
  counted as (
    select per.starts, per.ends,
           pg_catalog.count(b.outcome) filter (where b.outcome <> 'rescheduled') as bookings,
           pg_catalog.jsonb_build_object(
             'pending', pg_catalog.count(*) filter (where b.outcome = 'pending'),
             'confirmed', pg_catalog.count(*) filter (where b.outcome = 'confirmed'),
             'checkedIn', pg_catalog.count(*) filter (where b.outcome = 'checked_in'),
             'completed', pg_catalog.count(*) filter (where b.outcome = 'completed'),
             'noShow', pg_catalog.count(*) filter (where b.outcome = 'no_show'),
             'cancelled', pg_catalog.count(*) filter (where b.outcome = 'cancelled'),
             'lateCancelled', pg_catalog.count(*) filter (where b.outcome = 'cancelled' and b.late),
             'declined', pg_catalog.count(*) filter (where b.outcome = 'declined'),
             'rescheduled', pg_catalog.count(*) filter (where b.outcome = 'rescheduled')) as by_status,
           pg_catalog.count(*) filter (where b.outcome = 'no_show') as no_shows,
           pg_catalog.count(*) filter (where b.outcome in ('completed', 'checked_in', 'no_show')) as came_due,
           pg_catalog.count(*) filter (where b.outcome = 'cancelled' and b.late) as late_cancels,
           pg_catalog.count(*) filter (where b.outcome not in ('rescheduled', 'declined')) as kept_or_cancelled
      from periods per
      left join booked b on b.day between per.starts and per.ends
     group by per.starts, per.ends),
  shaped as (
    select c.starts, c.ends, pg_catalog.jsonb_build_object(
             'bookings', c.bookings,
             'byStatus', c.by_status,
             'noShowRate', case when c.came_due = 0 then null
                                else pg_catalog.round(c.no_shows::numeric / c.came_due, 4) end,
             'lateCancelRate', case when c.kept_or_cancelled = 0 then null
                                    else pg_catalog.round(c.late_cancels::numeric / c.kept_or_cancelled, 4) end) as figures
      from counted c),
  -- Utilisation over the range: minutes booked (not cancelled, declined or moved) of each staff
  -- member who worked or was booked, against their working minutes.
  staff_time as (
    select st.id, st.name,
           app.minutes(app.working_time(st.id, r.from_date, r.to_date, r.tz)) as working,
           coalesce((select pg_catalog.sum(b.minutes) from booked b
                      where b.staff_id = st.id and b.day between r.from_date and r.to_date
                        and b.outcome in ('pending', 'confirmed', 'checked_in', 'completed', 'no_show')), 0)::bigint as booked
      from app.staff st
     where st.org_id = auth.org_id() and (v_subject is null or st.user_id = v_subject)),
  utilisation as (
    select * from staff_time where working > 0 or booked > 0)
  select pg_catalog.jsonb_build_object(
    'from', r.from_date, 'to', r.to_date, 'timezone', r.tz, 'groupBy', v_group,
    'totals', (select s.figures from shaped s where s.starts = r.from_date and s.ends = r.to_date limit 1),
    'periods', coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('start', per.starts, 'end', per.ends)
                                                  || s.figures order by per.starts)
                           from app.report_periods(r.from_date, r.to_date, v_group) per
                           join shaped s on s.starts = per.starts and s.ends = per.ends), '[]'::jsonb),
    'utilisation', pg_catalog.jsonb_build_object(
      'bookedMinutes', (select coalesce(pg_catalog.sum(u.booked), 0) from utilisation u),
      'workingMinutes', (select coalesce(pg_catalog.sum(u.working), 0) from utilisation u),
      'rate', (select case when pg_catalog.sum(u.working) > 0
                           then pg_catalog.round(pg_catalog.sum(u.booked)::numeric / pg_catalog.sum(u.working), 4) end
                 from utilisation u),
      'staff', coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                                  'staffId', u.id, 'name', u.name, 'bookedMinutes', u.booked, 'workingMinutes', u.working,
                                  'rate', case when u.working > 0 then pg_catalog.round(u.booked::numeric / u.working, 4) end)
                                order by u.name, u.id) from utilisation u), '[]'::jsonb)),
    'comparison', (select pg_catalog.jsonb_build_object('from', r.prev_from, 'to', r.prev_to) || s.figures
                     from shaped s where s.starts = r.prev_from and s.ends = r.prev_to limit 1))
    into v_result;
  return v_result;
end
$$;
comment on function api.report_bookings(jsonb) is 'Bookings over a range of days in the organisation''s zone (by the day they start), per day, week or month: counts by status (a booking moved to another time counts as rescheduled, not cancelled), the no-show rate (of bookings whose time came) and the late-cancellation rate; utilisation of staff time (booked ÷ working minutes, wall-clock hours in the zone less time off and closures); and the previous period of the same length.';
grant execute on function api.report_bookings(jsonb) to favcrm_member;

create function api.report_customers(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_subject uuid := app.report_subject();
  r record;
  v_group text := coalesce(p ->> 'groupBy', 'day');
  v_inactive int := coalesce((p ->> 'inactiveDays')::int, 60);
  v_limit int := coalesce((p ->> 'limit')::int, 50);
  v_top text;
  v_result jsonb;
begin
  select * into r from app.report_range(p, 7);
  select (select t ->> 'name' from pg_catalog.jsonb_array_elements(lp.tiers) t
           order by (t ->> 'threshold')::numeric desc limit 1)
    into v_top
    from app.loyalty_programmes lp where lp.org_id = auth.org_id();
  with
  -- Visits: bookings whose customer came (completed or checked in), on the day they started.
  -- Staff count only their own bookings and the customers those bring.
  visits as (
    select b.customer_id, (b.starts_at at time zone r.tz)::date as day
      from app.bookings b
     where b.org_id = auth.org_id() and b.status in ('completed', 'checked_in')
       and b.starts_at < ((r.to_date + 1)::timestamp at time zone r.tz)
       and (v_subject is null or b.staff_id in (select st.id from app.staff st
                                                  where st.org_id = auth.org_id() and st.user_id = v_subject))),
  first_visits as (select v.customer_id, pg_catalog.min(v.day) as first_day from visits v group by v.customer_id),
  created as (
    select (c.created_at at time zone r.tz)::date as day
      from app.customers c
     where c.org_id = auth.org_id() and c.deleted_at is null and v_subject is null
       and c.created_at >= (r.prev_from::timestamp at time zone r.tz)
       and c.created_at < ((r.to_date + 1)::timestamp at time zone r.tz)),
  periods as (
    select per.starts, per.ends from app.report_periods(r.from_date, r.to_date, v_group) per
    union select r.from_date, r.to_date
    union select r.prev_from, r.prev_to),
  -- Each customer once a day (visits counted per period are distinct customers), then each
  -- customer once per period they came in, and whether they had come before it.
  visit_days as (select distinct v.customer_id, v.day from visits v),
  came as (
    select distinct per.starts, per.ends, d.customer_id
      from periods per join visit_days d on d.day between per.starts and per.ends),
  came_counts as (
    select k.starts, k.ends, pg_catalog.count(*) as visiting,
           pg_catalog.count(*) filter (where f.first_day < k.starts) as returning
      from came k join first_visits f using (customer_id)
     group by k.starts, k.ends),
  counted as (
    select per.starts, per.ends,
           (select pg_catalog.count(*) from created c where c.day between per.starts and per.ends) as new_customers,
           coalesce(cc.visiting, 0) as visiting, coalesce(cc.returning, 0) as returning
      from periods per left join came_counts cc on cc.starts = per.starts and cc.ends = per.ends),
  shaped as (
    select c.starts, c.ends, pg_catalog.jsonb_build_object(
             'newCustomers', c.new_customers, 'visiting', c.visiting, 'returning', c.returning,
             'firstVisits', c.visiting - c.returning) as figures
      from counted c),
  -- Churn: customers who came in the previous period and not in this one.
  before_set as (select distinct v.customer_id from visits v where v.day between r.prev_from and r.prev_to),
  now_set as (select distinct v.customer_id from visits v where v.day between r.from_date and r.to_date),
  churn as (
    select (select pg_catalog.count(*) from before_set) as before,
           (select pg_catalog.count(*) from before_set b where b.customer_id not in (select customer_id from now_set)) as lost),
  -- VIPs (the vip stage, or the top loyalty tier) with no visit in inactiveDays days up to `to`.
  vips as (
    select c.id, c.name, c.lifecycle_stage, m.tier,
           (select pg_catalog.max(v.day) from visits v where v.customer_id = c.id) as last_visit
      from app.customers c
      left join app.loyalty_members m on m.org_id = c.org_id and m.customer_id = c.id
     where c.org_id = auth.org_id() and c.deleted_at is null
       and (c.lifecycle_stage = 'vip' or (v_top is not null and m.tier = v_top))
       and (v_subject is null or exists (select from visits v where v.customer_id = c.id))),
  inactive as (
    select * from vips where last_visit is null or last_visit < r.to_date - v_inactive)
  select pg_catalog.jsonb_build_object(
    'from', r.from_date, 'to', r.to_date, 'timezone', r.tz, 'groupBy', v_group,
    'totals', (select s.figures from shaped s where s.starts = r.from_date and s.ends = r.to_date limit 1),
    'periods', coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('start', per.starts, 'end', per.ends)
                                                  || s.figures order by per.starts)
                           from app.report_periods(r.from_date, r.to_date, v_group) per
                           join shaped s on s.starts = per.starts and s.ends = per.ends), '[]'::jsonb),
    'churn', (select pg_catalog.jsonb_build_object(
                       'visitedBefore', ch.before, 'notBack', ch.lost,
                       'rate', case when ch.before = 0 then null else pg_catalog.round(ch.lost::numeric / ch.before, 4) end)
                from churn ch),
    'inactiveVips', pg_catalog.jsonb_build_object(
      'inactiveDays', v_inactive,
      'topTier', v_top,
      'count', (select pg_catalog.count(*) from inactive),
      'customers', coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                                       'customerId', i.id, 'name', i.name, 'lifecycleStage', i.lifecycle_stage,
                                       'tier', i.tier, 'lastVisit', i.last_visit,
                                       'daysSinceVisit', r.to_date - i.last_visit)
                                     order by i.last_visit nulls first, i.name)
                               from (select * from inactive order by last_visit nulls first, name limit v_limit) i),
                            '[]'::jsonb)),
    'comparison', (select pg_catalog.jsonb_build_object('from', r.prev_from, 'to', r.prev_to) || s.figures
                     from shaped s where s.starts = r.prev_from and s.ends = r.prev_to limit 1))
    into v_result;
  return v_result;
end
$$;
comment on function api.report_customers(jsonb) is 'Customers over a range of days in the organisation''s zone, per day, week or month: new customers, customers who came (a completed or checked-in booking), returning ones (who had come before the period) and first visits; churn (came in the previous period, not in this one); inactive VIPs (the vip stage or the top loyalty tier, no visit in inactiveDays days up to the end of the range); and the previous period.';
grant execute on function api.report_customers(jsonb) to favcrm_member;

create function api.report_loyalty(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_subject uuid := app.report_subject();
  r record;
  v_group text := coalesce(p ->> 'groupBy', 'day');
  v_end timestamptz;
  v_value record;
  v_result jsonb;
begin
  select * into r from app.report_range(p, 7);
  -- Staff see no ledger of points: loyalty belongs to the customer, not to a booking.
  if v_subject is not null then
    raise exception using errcode = '42501', hint = 'forbidden',
      message = 'The loyalty report is for managers and above.';
  end if;
  v_end := (r.to_date + 1)::timestamp at time zone r.tz;
  -- What a point is worth at most: the best rate of the rewards that give balance credit.
  select rw.amount::numeric / rw.cost_points as per_point, rw.currency into v_value
    from app.loyalty_rewards rw
   where rw.org_id = auth.org_id() and rw.archived_at is null and rw.gives = 'balance_credit'
     and rw.cost_points is not null and rw.amount is not null
   order by rw.amount::numeric / rw.cost_points desc
   limit 1;
  with
  entries as (
    select (e.created_at at time zone r.tz)::date as day, e.unit, e.kind, e.quantity
      from app.loyalty_entries e
     where e.org_id = auth.org_id() and e.created_at < v_end),
  periods as (
    select per.starts, per.ends from app.report_periods(r.from_date, r.to_date, v_group) per
    union select r.from_date, r.to_date
    union select r.prev_from, r.prev_to),
  shaped as (
    select per.starts, per.ends, pg_catalog.jsonb_build_object(
             'earned', coalesce(pg_catalog.sum(e.quantity) filter (
                         where e.unit = 'points' and (e.kind = 'earn' or (e.kind = 'adjust' and e.quantity > 0))), 0),
             'redeemed', coalesce(-pg_catalog.sum(e.quantity) filter (where e.unit = 'points' and e.kind = 'redeem'), 0),
             'expired', coalesce(-pg_catalog.sum(e.quantity) filter (where e.unit = 'points' and e.kind = 'expire'), 0),
             'reversed', coalesce(-pg_catalog.sum(e.quantity) filter (
                           where e.unit = 'points' and (e.kind = 'reverse' or (e.kind = 'adjust' and e.quantity < 0))), 0),
             'stampsEarned', coalesce(pg_catalog.sum(e.quantity) filter (where e.unit = 'stamps' and e.kind = 'earn'), 0))
             as figures
      from periods per
      left join entries e on e.day between per.starts and per.ends
     group by per.starts, per.ends),
  outstanding as (
    select coalesce(pg_catalog.sum(e.quantity) filter (where e.unit = 'points'), 0)::bigint as points,
           coalesce(pg_catalog.sum(e.quantity) filter (where e.unit = 'stamps'), 0)::bigint as stamps
      from entries e)
  select pg_catalog.jsonb_build_object(
    'from', r.from_date, 'to', r.to_date, 'timezone', r.tz, 'groupBy', v_group,
    'outstanding', pg_catalog.jsonb_build_object(
      'asOf', r.to_date,
      'points', o.points,
      'stamps', o.stamps,
      -- The liability: outstanding points at the best balance-credit rate, rounded down.
      'pointValue', case when v_value is null then null
                         else pg_catalog.round(v_value.per_point, 4) end,
      'liability', case when v_value.per_point is null then null
                        else app.money(pg_catalog.floor(o.points * v_value.per_point)::bigint, v_value.currency) end),
    'totals', (select s.figures from shaped s where s.starts = r.from_date and s.ends = r.to_date limit 1),
    'periods', coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('start', per.starts, 'end', per.ends)
                                                  || s.figures order by per.starts)
                           from app.report_periods(r.from_date, r.to_date, v_group) per
                           join shaped s on s.starts = per.starts and s.ends = per.ends), '[]'::jsonb),
    'comparison', (select pg_catalog.jsonb_build_object('from', r.prev_from, 'to', r.prev_to) || s.figures
                     from shaped s where s.starts = r.prev_from and s.ends = r.prev_to limit 1))
    into v_result
    from outstanding o;
  return v_result;
end
$$;
comment on function api.report_loyalty(jsonb) is 'Loyalty over a range of days in the organisation''s zone, per day, week or month: points earned (and positive adjustments), redeemed, expired and reversed (and negative adjustments), stamps earned; points and stamps outstanding at the end of the range and their value as a liability at the best balance-credit reward''s rate; the previous period. Managers and above.';
grant execute on function api.report_loyalty(jsonb) to favcrm_member;

-- A subscription's price per month, after its discount, in its plan's currency.
create function app.monthly_amount(pl app.plans, s app.subscriptions) returns numeric
language sql immutable parallel safe as $$
  select greatest(
           case when s.discount_bp is not null then pl.price_amount * (10000 - s.discount_bp) / 10000.0
                when s.discount_amount is not null then pl.price_amount - s.discount_amount
                else pl.price_amount end, 0)
         * case pl.interval_unit when 'week' then 52.0 / 12 when 'year' then 1.0 / 12 else 1 end
         / pl.interval_count
$$;
comment on function app.monthly_amount(app.plans, app.subscriptions) is 'What a subscription brings in per month: its plan''s price after its discount, a week''s times 52/12, a year''s over 12, over the interval count.';
grant execute on function app.monthly_amount(app.plans, app.subscriptions) to favcrm_member;

create function api.report_subscriptions(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_subject uuid := app.report_subject();
  r record;
  v_start timestamptz;
  v_end timestamptz;
  v_result jsonb;
begin
  select * into r from app.report_range(p, 30);
  if v_subject is not null then
    raise exception using errcode = '42501', hint = 'forbidden',
      message = 'The subscriptions report is for managers and above.';
  end if;
  v_start := r.from_date::timestamp at time zone r.tz;
  v_end := (r.to_date + 1)::timestamp at time zone r.tz;
  with
  subs as (
    select s.*, pl.currency, app.monthly_amount(pl, s) as monthly
      from app.subscriptions s
      join app.plans pl on pl.org_id = s.org_id and pl.id = s.plan_id
     where s.org_id = auth.org_id() and s.status <> 'scheduled'),
  -- Running at an instant: started by then and not yet ended.
  at_start as (select * from subs where created_at < v_start and (ended_at is null or ended_at >= v_start)),
  by_currency as (
    select c.currency,
           (select pg_catalog.count(*) from subs s where s.currency = c.currency and s.status = 'active') as active,
           (select pg_catalog.count(*) from subs s where s.currency = c.currency and s.status = 'trialing') as trialing,
           (select pg_catalog.count(*) from subs s where s.currency = c.currency and s.status = 'past_due') as past_due,
           (select pg_catalog.count(*) from subs s where s.currency = c.currency and s.status = 'paused') as paused,
           (select pg_catalog.round(coalesce(pg_catalog.sum(s.monthly), 0)) from subs s
             where s.currency = c.currency and s.status in ('active', 'past_due'))::bigint as mrr,
           (select pg_catalog.count(*) from at_start s where s.currency = c.currency) as running_at_start,
           (select pg_catalog.count(*) from subs s where s.currency = c.currency
              and s.created_at >= v_start and s.created_at < v_end) as started,
           (select pg_catalog.count(*) from subs s where s.currency = c.currency
              and s.ended_at >= v_start and s.ended_at < v_end) as ended,
           (select pg_catalog.round(coalesce(pg_catalog.sum(s.monthly), 0)) from subs s where s.currency = c.currency
              and s.ended_at >= v_start and s.ended_at < v_end)::bigint as mrr_lost
      from (select distinct currency from subs) c)
  select pg_catalog.jsonb_build_object(
    'from', r.from_date, 'to', r.to_date, 'timezone', r.tz,
    'currencies', coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
      'currency', b.currency,
      'now', pg_catalog.jsonb_build_object('active', b.active, 'trialing', b.trialing, 'pastDue', b.past_due,
                                           'paused', b.paused, 'mrr', app.money(b.mrr, b.currency)),
      'inRange', pg_catalog.jsonb_build_object(
        'runningAtStart', b.running_at_start, 'started', b.started, 'ended', b.ended,
        'churnRate', case when b.running_at_start = 0 then null
                          else pg_catalog.round(b.ended::numeric / b.running_at_start, 4) end,
        'mrrLost', app.money(b.mrr_lost, b.currency))) order by b.currency), '[]'::jsonb))
    into v_result
    from by_currency b;
  return v_result;
end
$$;
comment on function api.report_subscriptions(jsonb) is 'Subscriptions per currency: now, how many are active, trialing, past due and paused and the monthly recurring revenue (active and past due, each plan''s price after discount per month); over a range of days in the organisation''s zone, how many ran at its start, started and ended, the churn rate (ended ÷ running at the start) and the monthly revenue lost. Managers and above.';
grant execute on function api.report_subscriptions(jsonb) to favcrm_member;

create function api.report_campaigns(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_subject uuid := app.report_subject();
  r record;
  v_days int := coalesce((p ->> 'attributionDays')::int, 7);
  v_campaign uuid := (p ->> 'campaignId')::uuid;
  v_currency text := (select o.default_currency from app.organisations o where o.id = auth.org_id());
  v_result jsonb;
begin
  if v_subject is not null then
    raise exception using errcode = '42501', hint = 'forbidden',
      message = 'The campaigns report is for managers and above.';
  end if;
  select * into r from app.report_range(p, 30);
  with
  campaigns as (
    select c.id, c.name, c.sent_at
      from app.campaigns c
     where c.org_id = auth.org_id() and c.sent_at is not null
       and (case when v_campaign is not null then c.id = v_campaign
                 else c.sent_at >= (r.from_date::timestamp at time zone r.tz)
                  and c.sent_at < ((r.to_date + 1)::timestamp at time zone r.tz) end)),
  -- Each recipient's message, and from when it counts: when it went (or was written, if not yet).
  sent as (
    select m.campaign_id, m.customer_id, m.channel, m.recipient, m.status,
           coalesce(m.sent_at, m.created_at) as went
      from app.messages m join campaigns c on c.id = m.campaign_id
     where m.org_id = auth.org_id() and m.direction = 'outbound'),
  -- What each recipient did within the attribution window after their message.
  answered as (
    select s.*,
           exists (select from app.messages i
                    where i.org_id = auth.org_id() and i.direction = 'inbound' and i.channel = s.channel
                      and i.recipient = s.recipient and i.created_at >= s.went
                      and i.created_at < s.went + pg_catalog.make_interval(days => v_days)
                      and app.consent_keyword(i.body) is distinct from false) as replied,
           exists (select from app.messages i
                    where i.org_id = auth.org_id() and i.direction = 'inbound' and i.channel = s.channel
                      and i.recipient = s.recipient and i.created_at >= s.went
                      and i.created_at < s.went + pg_catalog.make_interval(days => v_days)
                      and app.consent_keyword(i.body) = false) as opted_out,
           (select pg_catalog.count(*) from app.bookings b
             where b.org_id = auth.org_id() and b.customer_id = s.customer_id and b.created_at >= s.went
               and b.created_at < s.went + pg_catalog.make_interval(days => v_days)
               and b.rescheduled_from_id is null) as bookings,
           (select coalesce(pg_catalog.sum(pm.amount - pm.amount_refunded), 0) from app.payments pm
             where pm.org_id = auth.org_id() and pm.customer_id = s.customer_id and pm.currency = v_currency
               and pm.method <> 'credit_balance' and pm.created_at >= s.went
               and pm.created_at < s.went + pg_catalog.make_interval(days => v_days)) as revenue
      from sent s),
  figures as (
    select c.id, c.name, c.sent_at,
           pg_catalog.count(a.campaign_id) as recipients,
           pg_catalog.count(*) filter (where a.status in ('sent', 'delivered', 'read')) as sent,
           pg_catalog.count(*) filter (where a.status in ('delivered', 'read')) as delivered,
           pg_catalog.count(*) filter (where a.status = 'read') as read,
           pg_catalog.count(*) filter (where a.status = 'failed') as failed,
           pg_catalog.count(*) filter (where a.status in ('scheduled', 'queued')) as waiting,
           pg_catalog.count(*) filter (where a.status = 'cancelled') as cancelled,
           pg_catalog.count(*) filter (where a.replied) as replied,
           pg_catalog.count(*) filter (where a.opted_out) as opted_out,
           pg_catalog.count(*) filter (where a.bookings > 0) as booked_customers,
           coalesce(pg_catalog.sum(a.bookings), 0)::bigint as bookings,
           coalesce(pg_catalog.sum(a.revenue), 0)::bigint as revenue
      from campaigns c left join answered a on a.campaign_id = c.id
     group by c.id, c.name, c.sent_at)
  select pg_catalog.jsonb_build_object(
    'from', r.from_date, 'to', r.to_date, 'timezone', r.tz, 'attributionDays', v_days,
    'campaigns', coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
      'campaignId', f.id, 'name', f.name, 'sentAt', app.ts(f.sent_at),
      'recipients', f.recipients, 'sent', f.sent, 'delivered', f.delivered, 'read', f.read, 'failed', f.failed,
      'waiting', f.waiting, 'cancelled', f.cancelled, 'replied', f.replied, 'optedOut', f.opted_out,
      'deliveryRate', case when f.sent + f.failed = 0 then null
                           else pg_catalog.round(f.delivered::numeric / (f.sent + f.failed), 4) end,
      'bookedCustomers', f.booked_customers, 'bookings', f.bookings,
      'revenue', app.money(f.revenue, v_currency)) order by f.sent_at desc, f.id), '[]'::jsonb))
    into v_result
    from figures f;
  return v_result;
end
$$;
comment on function api.report_campaigns(jsonb) is 'Campaigns sent in a range of days (or one campaign): per campaign, recipients and their messages'' delivery states, who replied and who opted out (STOP and its kin), and the bookings made and revenue paid (net of refunds, the organisation''s currency) by recipients within attributionDays (default 7) of their message. Managers and above.';
grant execute on function api.report_campaigns(jsonb) to favcrm_member;
