-- The weekly digest: an organisation's week summed up once it is over, from the reports
-- themselves (sql/operations/reports.sql), kept as a snapshot and, when the organisation asks
-- (reporting.digestEmail), emailed to its owners through the outbox.
--
-- The week is the organisation's: it starts on reporting.weekStartsOn and its days are days in
-- the organisation's time zone. The scheduler asks auth.due_digests which organisations have a
-- week that ended without a digest (the last week only: no back-filling), then makes each with
-- auth.make_weekly_digest acting as the organisation's owner role, so the reports run under
-- the same policies as a request. A week's digest is a unique row: however many schedulers run,
-- it is written, and emailed, once.

create function app.digest_json(d app.report_digests) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', d.id,
    'weekStart', d.week_start,
    'weekEnd', d.week_end,
    'timezone', d.timezone,
    'summary', d.summary,
    'emailedTo', pg_catalog.to_jsonb(d.emailed_to),
    'createdAt', app.ts(d.created_at))
$$;
comment on function app.digest_json(app.report_digests) is 'The API representation of a weekly digest.';
grant execute on function app.digest_json(app.report_digests) to favcrm_member;

create function app.require_digest_reader() returns void
language plpgsql stable set search_path = '' as $$
begin
  perform auth.require_scope('reports:read');
  if auth.role_rank(auth.role()) < auth.role_rank('manager') then
    raise exception using errcode = '42501', hint = 'forbidden',
      message = 'Only managers and above read the weekly digest: it speaks for the whole organisation.';
  end if;
end
$$;
comment on function app.require_digest_reader() is 'Raises 42501 forbidden unless the caller holds reports:read and is a manager, admin or owner.';
grant execute on function app.require_digest_reader() to favcrm_member;

create function api.list_report_digests(p jsonb) returns json
language plpgsql stable set search_path = '' as $$
declare
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
begin
  perform app.require_digest_reader();
  return (
    select app.page_json(pg_catalog.json_agg(app.digest_json(x.d) order by x.n) filter (where x.n <= v_limit),
                         (pg_catalog.array_agg(x.id) filter (where x.n = v_limit))[1],
                         pg_catalog.count(*) > v_limit)
      from (select d.id, d, pg_catalog.row_number() over (order by d.week_start desc, d.id desc) n
              from app.report_digests d
             where d.org_id = auth.org_id()
               and (v_after is null
                    or (d.week_start, d.id) < (select a.week_start, a.id from app.report_digests a
                                                where a.org_id = auth.org_id() and a.id = v_after))
             order by d.week_start desc, d.id desc
             limit v_limit + 1) x);
end
$$;
comment on function api.list_report_digests(jsonb) is 'The weekly digests, the latest week first: each week''s revenue, bookings, no-shows, overdue invoices and inactive VIPs beside the week before (managers and above).';
grant execute on function api.list_report_digests(jsonb) to favcrm_member;

create function api.get_report_digest(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  d app.report_digests;
begin
  perform app.require_digest_reader();
  select * into d from app.report_digests where org_id = auth.org_id() and id = (p ->> 'digestId')::uuid;
  if not found then
    perform app.not_found('digest', 'digestId');
  end if;
  return app.digest_json(d);
end
$$;
comment on function api.get_report_digest(jsonb) is 'One weekly digest.';
grant execute on function api.get_report_digest(jsonb) to favcrm_member;

-- The scheduler's door: organisations whose last whole week (in their zone, from their first
-- weekday) ended without a digest, as of a time. Only organisations that existed before that
-- week ended; only the last week (a server that was down for a month makes one digest).
create function auth.due_digests(p_as_of timestamptz, p_limit int) returns table (org_id uuid, week_start date)
language sql stable security definer set search_path = '' as $$
  select o.id, w.week_start
    from app.organisations o,
         lateral (select (p_as_of at time zone o.timezone)::date as today) t,
         lateral (select t.today - ((extract(isodow from t.today)::int - o.week_starts_on + 7) % 7) - 7 as week_start) w
   where o.created_at < ((w.week_start + 7)::timestamp at time zone o.timezone)
     and not exists (select from app.report_digests d where d.org_id = o.id and d.week_start = w.week_start)
   order by o.id
   limit p_limit
$$;
comment on function auth.due_digests(timestamptz, int) is 'Organisations whose last whole week ended, as of a time, without a weekly digest: organisation and the week''s first day.';
revoke all on function auth.due_digests(timestamptz, int) from public;
grant execute on function auth.due_digests(timestamptz, int) to favcrm_authenticator;

-- Makes one organisation's digest of the week starting p_week_start, acting for it as the
-- scheduler, and queues the email to its owners when it asks for one. Returns the digest, or
-- {skipped: true} when another scheduler wrote it first.
create function auth.make_weekly_digest(p_org uuid, p_week_start date) returns jsonb
language plpgsql volatile set search_path = '' as $$
declare
  o app.organisations;
  v_to date := p_week_start + 6;
  v_range jsonb := pg_catalog.jsonb_build_object('from', p_week_start, 'to', v_to, 'groupBy', 'week');
  v_revenue jsonb;
  v_bookings jsonb;
  v_overdue jsonb;
  v_customers jsonb;
  v_summary jsonb;
  v_owners text[] := '{}';
  v_email text;
  d app.report_digests;
begin
  perform auth.act_for_scheduler(p_org, 'make_weekly_digest');
  select * into o from app.organisations where id = p_org;
  v_revenue := api.report_revenue(v_range);
  v_bookings := api.report_bookings(v_range);
  v_overdue := api.report_overdue_invoices(pg_catalog.jsonb_build_object('asOf', v_to, 'limit', 5));
  v_customers := api.report_customers(v_range || pg_catalog.jsonb_build_object('limit', 10));
  v_summary := pg_catalog.jsonb_build_object(
    'revenue', pg_catalog.jsonb_build_object(
      'currency', v_revenue -> 'currency',
      'totals', v_revenue -> 'totals',
      'previous', v_revenue #> '{comparison,totals}',
      'changePercent', v_revenue #> '{comparison,changePercent}'),
    'bookings', pg_catalog.jsonb_build_object(
      'totals', v_bookings -> 'totals',
      'previous', (v_bookings -> 'comparison') - 'from' - 'to',
      'utilisation', v_bookings #> '{utilisation,rate}'),
    'noShows', v_bookings #> '{totals,byStatus,noShow}',
    'overdue', pg_catalog.jsonb_build_object(
      'currencies', coalesce((select pg_catalog.jsonb_agg(c - 'buckets' - 'comparison')
                                from pg_catalog.jsonb_array_elements(v_overdue -> 'currencies') c), '[]'),
      'mostOverdue', v_overdue -> 'invoices'),
    'customers', v_customers -> 'totals',
    'inactiveVips', v_customers -> 'inactiveVips');
  if o.digest_email then
    select coalesce(pg_catalog.array_agg(m.email order by m.email), '{}') into v_owners
      from app.memberships m
     where m.org_id = p_org and m.role = 'owner' and m.removed_at is null;
  end if;
  insert into app.report_digests (org_id, week_start, week_end, timezone, summary, emailed_to)
  values (p_org, p_week_start, v_to, o.timezone, v_summary, v_owners)
  on conflict (org_id, week_start) do nothing
  returning * into d;
  if not found then
    return pg_catalog.jsonb_build_object('skipped', true);
  end if;
  foreach v_email in array v_owners loop
    perform app.queue_email(v_email, 'weekly_digest', pg_catalog.jsonb_build_object(
      'organisationName', o.name, 'digestId', d.id, 'weekStart', d.week_start, 'weekEnd', d.week_end,
      'summary', v_summary));
  end loop;
  return app.digest_json(d);
end
$$;
comment on function auth.make_weekly_digest(uuid, date) is 'The scheduler''s weekly digest of one organisation''s week (revenue, bookings, no-shows, overdue invoices, inactive VIPs beside the week before), written once and emailed to its owners when the organisation asks.';
revoke all on function auth.make_weekly_digest(uuid, date) from public;
grant execute on function auth.make_weekly_digest(uuid, date) to favcrm_member;
