-- Availability and bookings: open slots, taking a slot (PostgreSQL itself refuses a double
-- booking), a booking's life, classes with seats, and waiting lists. Everyone can read and take
-- bookings; staff only their own (the policies on app.bookings).

-- ---------------------------------------------------------------------------------------
-- How bookings, class sessions and waiting-list entries look to clients
-- ---------------------------------------------------------------------------------------
-- plpgsql rather than SQL: a SQL function with subqueries is never inlined, and PostgreSQL
-- parsed and planned its body again in every transaction that answered with a booking (about a
-- third of a booking's database time under load); plpgsql keeps the plan for the session.
create function app.booking_json(b app.bookings) returns jsonb
language plpgsql stable set search_path = '' as $$
begin
  return (select pg_catalog.jsonb_build_object(
    'id', b.id,
    'serviceId', b.service_id,
    'service', (select pg_catalog.jsonb_build_object('id', sv.id, 'name', sv.name)
                  from app.services sv where sv.org_id = b.org_id and sv.id = b.service_id),
    'staffId', b.staff_id,
    'staff', (select pg_catalog.jsonb_build_object('id', st.id, 'name', st.name)
                from app.staff st where st.org_id = b.org_id and st.id = b.staff_id),
    'customerId', b.customer_id,
    'customer', (select pg_catalog.jsonb_build_object('id', c.id, 'name', c.name)
                   from app.customers c where c.org_id = b.org_id and c.id = b.customer_id),
    'resourceIds', pg_catalog.to_jsonb(array(select br.resource_id from app.booking_resources br
                                              where br.org_id = b.org_id and br.booking_id = b.id order by br.resource_id)),
    'status', b.status,
    'startsAt', app.ts(b.starts_at),
    'endsAt', app.ts(b.ends_at),
    'price', app.money(b.price_amount, b.currency),
    'notes', b.notes,
    'cancelledAt', app.ts(b.cancelled_at),
    'cancelledByUserId', b.cancelled_by_user_id,
    'cancelReason', b.cancel_reason,
    'lateCancel', b.late_cancel,
    'fee', case when b.fee_amount is null then null else app.money(b.fee_amount, b.currency) end,
    'rescheduledFromId', b.rescheduled_from_id,
    'rescheduledToId', (select n.id from app.bookings n where n.org_id = b.org_id and n.rescheduled_from_id = b.id limit 1),
    'classSessionId', b.class_session_id,
    'invoiceId', b.invoice_id,
    'paidWith', case when b.credit_grant_id is not null then 'credits' end,
    'creditGrantId', b.credit_grant_id,
    'createdAt', app.ts(b.created_at),
    'updatedAt', app.ts(b.updated_at)));
end
$$;
comment on function app.booking_json(app.bookings) is 'The API representation of a booking, with its service, staff member and customer as {id, name}.';
grant execute on function app.booking_json(app.bookings) to favcrm_member;

-- A web page's booking answers the same whether or not the customer was known: it names no
-- customer, neither by id (a UUIDv7 dates an existing customer) nor by the name on file.
create function app.public_booking(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
begin
  if p ? 'customerId' then
    perform app.raise_invalid('customerId', 'not_allowed_for_publishable_key',
      'A web page books with customer {name, email, phone}, not an existing customer id.');
  end if;
  if coalesce(p #>> '{customer,email}', p #>> '{customer,phone}') is null then
    perform app.raise_invalid('customer', 'contact_required', 'Give the customer''s email or phone.');
  end if;
  if p ? 'payWith' then
    perform app.raise_invalid('payWith', 'not_allowed_for_publishable_key',
      'A web page cannot spend a customer''s credits: the business books those.');
  end if;
  -- For a known email or phone these would name (and date) an existing customer.
  -- Nor does a service's payWithCredits apply: a page cannot tell who is booking.
  return api.create_booking(p || '{"payWith": "price"}') - 'customerId' - 'customer' - 'creditGrantId';
end
$$;
comment on function app.public_booking(jsonb) is 'create_booking for a web page (publishable key): by customer name and email or phone only; the answer leaves out customerId and customer, so it does not tell whether the customer existed.';
revoke all on function app.public_booking(jsonb) from public;

create function app.class_session_json(cs app.class_sessions) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', cs.id,
    'serviceId', cs.service_id,
    'staffId', cs.staff_id,
    'resourceId', cs.resource_id,
    'seriesId', cs.series_id,
    'start', app.ts(cs.starts_at),
    'end', app.ts(cs.ends_at),
    'capacity', cs.capacity,
    'seatsBooked', cs.booked_count,
    'seatsRemaining', case when cs.active then cs.capacity - cs.booked_count else 0 end,
    'waiting', (select count(*) from app.waitlist_entries w
                 where w.org_id = cs.org_id and w.class_session_id = cs.id and w.status = 'waiting'),
    'status', cs.status,
    'createdAt', app.ts(cs.created_at),
    'updatedAt', app.ts(cs.updated_at))
$$;
comment on function app.class_session_json(app.class_sessions) is 'The API representation of a class session.';
grant execute on function app.class_session_json(app.class_sessions) to favcrm_member;

create function app.waitlist_entry_json(w app.waitlist_entries) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', w.id,
    'classSessionId', w.class_session_id,
    'customerId', w.customer_id,
    'status', w.status,
    'position', case when w.status = 'waiting' then
                  (select count(*) from app.waitlist_entries o
                    where o.org_id = w.org_id and o.class_session_id = w.class_session_id and o.status = 'waiting'
                      and o.id <= w.id) end,
    'bookingId', w.booking_id,
    'createdAt', app.ts(w.created_at),
    'updatedAt', app.ts(w.updated_at))
$$;
comment on function app.waitlist_entry_json(app.waitlist_entries) is 'The API representation of a waiting-list entry, with its position while waiting.';
grant execute on function app.waitlist_entry_json(app.waitlist_entries) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Availability
-- ---------------------------------------------------------------------------------------
-- The open slots of a service in [p_from, p_to): each start with a staff member who can take
-- it and one free resource of each needed type. Planned once per connection (a generic plan):
-- planning this query afresh for each call cost 6–7 ms, running it about 1.5 ms. SECURITY DEFINER because availability must
-- count every booking of the organisation, including those a staff key cannot read; it
-- returns times and ids only, for the organisation in the request's claims.
create function auth.open_slots(p_service_id uuid, p_from timestamptz, p_to timestamptz, p_staff uuid,
                                p_resource uuid, p_ignore uuid)
returns table (starts_at timestamptz, ends_at timestamptz, staff_id uuid, resource_ids uuid[])
language plpgsql stable security definer set search_path = '' set plan_cache_mode = force_generic_plan as $$
declare
  v_org uuid := auth.org_id();
  s app.services;
  v_tz text;
  v_duration interval;
  v_step interval;
  v_before interval;
  v_after interval;
  v_earliest timestamptz;
  v_latest timestamptz;
begin
  select * into s from app.services sv where sv.org_id = v_org and sv.id = p_service_id;
  if not found or v_org is null or s.capacity > 1 then
    return;
  end if;
  select o.timezone into v_tz from app.organisations o where o.id = v_org;
  v_duration := pg_catalog.make_interval(mins => s.duration_minutes);
  v_step := pg_catalog.make_interval(mins => coalesce(s.slot_interval_minutes, s.duration_minutes));
  v_before := pg_catalog.make_interval(mins => s.buffer_before_minutes);
  v_after := pg_catalog.make_interval(mins => s.buffer_after_minutes);
  v_earliest := greatest(p_from, pg_catalog.now() + pg_catalog.make_interval(mins => s.min_notice_minutes));
  v_latest := least(p_to, pg_catalog.now() + pg_catalog.make_interval(days => s.max_advance_days));
  if v_earliest >= v_latest then
    return;
  end if;
  -- Everything that takes time in the window is read once and merged into one multirange per
  -- staff member (and per resource); each candidate slot is then checked against those.
  return query
  with staff as (
    select st.id
      from app.staff st
      join app.service_staff ss on ss.org_id = st.org_id and ss.staff_id = st.id and ss.service_id = s.id
     where st.org_id = v_org and st.archived_at is null and (p_staff is null or st.id = p_staff)
  ),
  win as (
    select pg_catalog.tstzrange(v_earliest - interval '1 day', v_latest + interval '1 day') as r
  ),
  busy as (
    select x.staff_id, range_agg(x.r) as ranges
      from (select b.staff_id, b.blocked as r
              from app.bookings b, win
             where b.org_id = v_org and b.active and b.class_session_id is null and b.blocked && win.r
               and b.staff_id in (select id from staff) and b.id is distinct from p_ignore
            union all
            select cs.staff_id, cs.blocked
              from app.class_sessions cs, win
             where cs.org_id = v_org and cs.active and cs.blocked && win.r and cs.staff_id in (select id from staff)) x
     group by x.staff_id
  ),
  away as (
    select t.staff_id, range_agg(t.period) as ranges
      from app.time_off t, win
     where t.org_id = v_org and t.period && win.r and t.staff_id in (select id from staff)
     group by t.staff_id
  ),
  closed as (
    select range_agg(pg_catalog.daterange(c.starts_on, c.ends_on, '[]')) as days
      from app.closures c
     where c.org_id = v_org and c.ends_on >= (v_earliest at time zone v_tz)::date - 1
  ),
  held as (
    select x.resource_id, range_agg(x.r) as ranges
      from (select br.resource_id, br.blocked as r
              from app.booking_resources br, win
             where br.org_id = v_org and br.active and br.blocked && win.r and br.booking_id is distinct from p_ignore
            union all
            select cr.resource_id, cr.blocked
              from app.class_sessions cr, win
             where cr.org_id = v_org and cr.active and cr.resource_id is not null and cr.blocked && win.r) x
     group by x.resource_id
  ),
  candidates as (
    select r.id, r.type, r.name, h.ranges
      from app.resources r
      left join held h on h.resource_id = r.id
     where r.org_id = v_org and r.archived_at is null and r.type = any (s.resource_types)
       and (p_resource is null or r.id = p_resource
            or not exists (select from app.resources x where x.org_id = v_org and x.id = p_resource and x.type = r.type))
  ),
  days as (
    select d::date as day
      from pg_catalog.generate_series((v_earliest at time zone v_tz)::date - 1, (v_latest at time zone v_tz)::date, interval '1 day') d
  ),
  -- Wall-clock starts per date: 09:00 is 09:00 in winter and in summer.
  -- Each date's one-off hours if it has any, else its weekday's hours (as app.hours_on, inline).
  hours as (
    select staff.id as staff_id, days.day, e.start_time, e.end_time
      from staff
      cross join days
      join app.hours_exceptions e on e.org_id = v_org and e.staff_id = staff.id and e.on_date = days.day
     where e.start_time is not null
    union all
    select staff.id, days.day, wh.start_time, wh.end_time
      from staff
      cross join days
      join app.working_hours wh on wh.org_id = v_org and wh.staff_id = staff.id and wh.weekday = extract(isodow from days.day)
     where not exists (select from app.hours_exceptions e
                        where e.org_id = v_org and e.staff_id = staff.id and e.on_date = days.day)
  ),
  local_slots as (
    select h.staff_id, h.day, gs as local_start, h.day + h.end_time as local_end
      from hours h
      cross join lateral pg_catalog.generate_series(h.day + h.start_time, h.day + h.end_time - v_duration, v_step) gs
  ),
  slots as (
    select ls.staff_id, ls.day, (ls.local_start at time zone v_tz) as slot_start, (ls.local_end at time zone v_tz) as window_end
      from local_slots ls
     -- A wall-clock time skipped by a DST change does not exist: no slot there.
     where ((ls.local_start at time zone v_tz) at time zone v_tz) = ls.local_start
  )
  select sl.slot_start, sl.slot_start + v_duration, sl.staff_id, res.ids
    from slots sl
    cross join closed
    left join busy on busy.staff_id = sl.staff_id
    left join away on away.staff_id = sl.staff_id
    cross join lateral (
      select array_agg(pick.id order by pick.type) as ids, count(pick.id) as n
        from pg_catalog.unnest(s.resource_types) need(type)
        cross join lateral (
          select c.id, c.type
            from candidates c
           where c.type = need.type
             and (c.ranges is null
                  or not c.ranges && pg_catalog.tstzrange(sl.slot_start - v_before, sl.slot_start + v_duration + v_after))
           order by c.name, c.id
           limit 1) pick
    ) res
   where sl.slot_start >= v_earliest and sl.slot_start < v_latest
     and sl.slot_start + v_duration <= sl.window_end
     and res.n = pg_catalog.cardinality(s.resource_types)
     and (closed.days is null or not closed.days @> (sl.slot_start at time zone v_tz)::date)
     and (away.ranges is null or not away.ranges && pg_catalog.tstzrange(sl.slot_start, sl.slot_start + v_duration))
     and (busy.ranges is null
          or not busy.ranges && pg_catalog.tstzrange(sl.slot_start - v_before, sl.slot_start + v_duration + v_after))
   order by 1, 3;
end
$$;
comment on function auth.open_slots(uuid, timestamptz, timestamptz, uuid, uuid, uuid) is 'Open slots of a service of the claimed organisation in [from, to): working hours expanded per date in the organisation''s time zone, minus breaks, time off, closures, minimum notice, maximum advance and every active booking (with buffers), with one free resource per needed type. Ignores booking p_ignore (for rescheduling).';
revoke all on function auth.open_slots(uuid, timestamptz, timestamptz, uuid, uuid, uuid) from public;
grant execute on function auth.open_slots(uuid, timestamptz, timestamptz, uuid, uuid, uuid) to favcrm_member;

-- Whether a resource is free over a range, whoever's bookings hold it (staff callers cannot
-- read colleagues' bookings, so this looks past RLS, for the claimed organisation only).
create function auth.resource_free(p_resource uuid, p_range tstzrange, p_ignore uuid) returns boolean
language sql stable security definer set search_path = '' as $$
  select not exists (select from app.booking_resources br
                      where br.org_id = auth.org_id() and br.resource_id = p_resource and br.active
                        and br.blocked && p_range and br.booking_id is distinct from p_ignore)
     and not exists (select from app.class_sessions cs
                      where cs.org_id = auth.org_id() and cs.resource_id = p_resource and cs.active
                        and cs.blocked && p_range)
$$;
comment on function auth.resource_free(uuid, tstzrange, uuid) is 'Whether no active booking (but p_ignore, the booking being rescheduled) and no class session of the claimed organisation holds the resource during the range.';
revoke all on function auth.resource_free(uuid, tstzrange, uuid) from public;
grant execute on function auth.resource_free(uuid, tstzrange, uuid) to favcrm_member;

-- A resource named by a booking or a slots request must exist and be of a type the service needs.
create function app.require_usable_resource(s app.services, p_resource uuid) returns void
language plpgsql stable set search_path = '' as $$
declare
  v_type text;
begin
  if p_resource is null then
    return;
  end if;
  select r.type into v_type from app.resources r
   where r.org_id = s.org_id and r.id = p_resource and r.archived_at is null;
  if not found then
    perform app.raise_invalid('resourceId', 'unknown_resource', 'No active resource has that id; list_resources shows them.');
  end if;
  if not v_type = any (s.resource_types) then
    perform app.raise_invalid('resourceId', 'resource_not_needed',
      pg_catalog.format('This service needs %s, not a %s.',
        coalesce(nullif(pg_catalog.array_to_string(s.resource_types, ', '), ''), 'no resources'), v_type));
  end if;
end
$$;
comment on function app.require_usable_resource(app.services, uuid) is 'Refuses (422) a resourceId that is unknown, archived or of a type the service does not need, instead of ignoring it.';
grant execute on function app.require_usable_resource(app.services, uuid) to favcrm_member;

-- The range of a slots request: from now and a week long unless given; at most 31 days.
create function app.slot_range(p jsonb) returns tstzrange
language plpgsql stable set search_path = '' as $$
declare
  v_from timestamptz := coalesce((p ->> 'from')::timestamptz, pg_catalog.now());
  v_to timestamptz := coalesce((p ->> 'to')::timestamptz, v_from + interval '7 days');
begin
  if v_to <= v_from then
    perform app.raise_invalid('to', 'range_end_before_start', 'to must be after from.');
  end if;
  if v_to - v_from > interval '31 days' then
    perform app.raise_invalid('to', 'range_too_long', 'Ask for at most 31 days of slots at a time.');
  end if;
  return pg_catalog.tstzrange(v_from, v_to);
end
$$;
comment on function app.slot_range(jsonb) is 'The range a slots request asks for: from now and a week long unless given; at most 31 days.';
grant execute on function app.slot_range(jsonb) to favcrm_member;

-- Open class sessions of a service as slots, with the seats left.
create function app.class_slots_json(s app.services, p_from timestamptz, p_to timestamptz, p_staff uuid) returns jsonb
language sql stable as $$
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'start', app.ts(cs.starts_at), 'end', app.ts(cs.ends_at),
           'staff', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('id', st.id, 'name', st.name)),
           'resourceIds', case when cs.resource_id is null then '[]'::jsonb else pg_catalog.jsonb_build_array(cs.resource_id) end,
           'classSessionId', cs.id,
           'seatsRemaining', cs.capacity - cs.booked_count) order by cs.starts_at), '[]'::jsonb)
    from app.class_sessions cs
    join app.staff st on st.org_id = cs.org_id and st.id = cs.staff_id
   where cs.org_id = s.org_id and cs.service_id = s.id and cs.active and cs.booked_count < cs.capacity
     and cs.starts_at >= greatest(p_from, pg_catalog.now() + pg_catalog.make_interval(mins => s.min_notice_minutes))
     and cs.starts_at < least(p_to, pg_catalog.now() + pg_catalog.make_interval(days => s.max_advance_days))
     and (p_staff is null or cs.staff_id = p_staff)
$$;
comment on function app.class_slots_json(app.services, timestamp with time zone, timestamp with time zone, uuid) is 'Open class sessions of a service in a range as slots, with the seats left.';
grant execute on function app.class_slots_json(app.services, timestamptz, timestamptz, uuid) to favcrm_member;

-- Slots grouped by start, with who and what can take each.
create function app.slots_json(p_service uuid, p_from timestamptz, p_to timestamptz, p_staff uuid, p_resource uuid,
                               p_ignore uuid, p_limit int) returns jsonb
language sql stable as $$
  with o as (
    select * from auth.open_slots(p_service, p_from, p_to, p_staff, p_resource, p_ignore)
  ),
  by_start as (
    select o.starts_at, o.ends_at,
           pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('id', st.id, 'name', st.name) order by st.name, st.id) as staff
      from o
      join app.staff st on st.org_id = auth.org_id() and st.id = o.staff_id
     group by o.starts_at, o.ends_at
     order by o.starts_at
     limit p_limit
  ),
  resources as (
    select o.starts_at, pg_catalog.jsonb_agg(distinct r) as ids
      from o cross join pg_catalog.unnest(o.resource_ids) r
     group by o.starts_at
  )
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'start', app.ts(b.starts_at), 'end', app.ts(b.ends_at), 'staff', b.staff,
           'resourceIds', coalesce(r.ids, '[]'::jsonb)) order by b.starts_at), '[]'::jsonb)
    from by_start b
    left join resources r on r.starts_at = b.starts_at
$$;
comment on function app.slots_json(uuid, timestamp with time zone, timestamp with time zone, uuid, uuid, uuid, integer) is 'Open slots of a service in a range, grouped by start, with the staff and resources that can take each.';
grant execute on function app.slots_json(uuid, timestamptz, timestamptz, uuid, uuid, uuid, int) to favcrm_member;

-- Why a service has no open slot in a range (only asked when it has none).
create function app.no_slots_reason(s app.services, p_range tstzrange, p_staff uuid) returns text
language sql stable set search_path = '' as $$
  select case
    when pg_catalog.upper(p_range) <= pg_catalog.now() + pg_catalog.make_interval(mins => s.min_notice_minutes)
      or pg_catalog.lower(p_range) >= pg_catalog.now() + pg_catalog.make_interval(days => s.max_advance_days)
      then 'outside_booking_window'
    when s.capacity > 1 and not exists (
        select from app.class_sessions cs
         where cs.org_id = s.org_id and cs.service_id = s.id and cs.active
           and cs.starts_at >= pg_catalog.lower(p_range) and cs.starts_at < pg_catalog.upper(p_range))
      then 'no_class_sessions'
    when s.capacity > 1 then 'fully_booked'
    when not exists (
        select from app.service_staff ss
          join app.staff st on st.org_id = ss.org_id and st.id = ss.staff_id
         where ss.org_id = s.org_id and ss.service_id = s.id and st.archived_at is null
           and (p_staff is null or st.id = p_staff))
      then 'no_staff'
    when exists (
        select from pg_catalog.unnest(s.resource_types) t(type)
         where not exists (select from app.resources r
                            where r.org_id = s.org_id and r.type = t.type and r.archived_at is null))
      then 'no_resources'
    when not exists (
        select from app.service_staff ss
          join app.working_hours wh on wh.org_id = ss.org_id and wh.staff_id = ss.staff_id
         where ss.org_id = s.org_id and ss.service_id = s.id and (p_staff is null or ss.staff_id = p_staff))
     and not exists (
        select from app.service_staff ss
          join app.hours_exceptions e on e.org_id = ss.org_id and e.staff_id = ss.staff_id
         where ss.org_id = s.org_id and ss.service_id = s.id and (p_staff is null or ss.staff_id = p_staff)
           and e.start_time is not null)
      then 'no_working_hours'
    else 'fully_booked'
  end
$$;
comment on function app.no_slots_reason(app.services, tstzrange, uuid) is 'Why get_available_slots found nothing: outside_booking_window, no_class_sessions, no_staff, no_resources, no_working_hours, or fully_booked (bookings, time off and closures fill the hours).';
grant execute on function app.no_slots_reason(app.services, tstzrange, uuid) to favcrm_member;

create function api.get_available_slots(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  s app.services;
  v_range tstzrange := app.slot_range(p);
  v_tz text;
  v_slots jsonb;
  v_staff uuid := (p ->> 'staffId')::uuid;
begin
  perform auth.require_scope('bookings:read');
  s := app.service_for((p ->> 'serviceId')::uuid, false);
  if s.archived_at is not null then
    raise exception using errcode = '55000', hint = 'service_archived', message = 'This service is archived and cannot be booked.';
  end if;
  perform app.require_usable_resource(s, (p ->> 'resourceId')::uuid);
  select o.timezone into v_tz from app.organisations o where o.id = auth.org_id();
  v_slots := case when s.capacity > 1
                  then app.class_slots_json(s, pg_catalog.lower(v_range), pg_catalog.upper(v_range), v_staff)
                  else app.slots_json(s.id, pg_catalog.lower(v_range), pg_catalog.upper(v_range),
                                      v_staff, (p ->> 'resourceId')::uuid, null, 10000) end;
  return pg_catalog.jsonb_build_object(
    'serviceId', s.id,
    'timezone', v_tz,
    'durationMinutes', s.duration_minutes,
    'from', app.ts(pg_catalog.lower(v_range)),
    'to', app.ts(pg_catalog.upper(v_range)),
    'slots', v_slots,
    'reason', case when v_slots = '[]'::jsonb then app.no_slots_reason(s, v_range, v_staff) end);
end
$$;
comment on function api.get_available_slots(jsonb) is 'Open start times of a service in a range of at most 31 days (from now, a week, unless given), each with the staff and resources that can take it; with none, a reason.';
grant execute on function api.get_available_slots(jsonb) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Taking a slot
-- ---------------------------------------------------------------------------------------
-- The customer of a new booking, found or created once however many bookings ask at once.
create function app.booking_customer(p jsonb) returns uuid
language plpgsql set search_path = '' as $$
declare
  v_id uuid;
  v_email text := app.normalize_email(p #>> '{customer,email}');
  v_phone text := app.normalize_phone(p #>> '{customer,phone}');
  v_candidates jsonb;
begin
  if p ->> 'customerId' is not null then
    select c.id into v_id from app.customers c
     where c.org_id = auth.org_id() and c.id = (p ->> 'customerId')::uuid and c.deleted_at is null;
    if not found then
      perform app.not_found('customer');
    end if;
  elsif p -> 'customer' is not null and p -> 'customer' <> 'null'::jsonb then
    if v_email is null and v_phone is not null then
      -- Phones are not unique: the same new number twice at once is serialised per
      -- organisation and number, so that it becomes one customer.
      perform pg_catalog.pg_advisory_xact_lock(
        pg_catalog.hashtextextended('favcrm.customer.phone.' || auth.org_id()::text || v_phone, 0));
    end if;
    if v_email is not null then
      select c.id into v_id from app.customers c
       where c.org_id = auth.org_id() and c.email = v_email and c.deleted_at is null;
    end if;
    if v_id is null and v_phone is not null then
      select c.id into v_id from app.customers c
       where c.org_id = auth.org_id() and c.phone = v_phone and c.deleted_at is null
       order by c.id limit 1;
    end if;
    if v_id is null and v_email is null and v_phone is null then
      -- A name alone cannot tell "Amy" from "Amy Wong": with customers of that name, ask which.
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('id', c.id, 'name', c.name, 'email', c.email,
                                                                'phone', c.phone) order by c.name, c.id)
        into v_candidates
        from (select c.* from app.customers c
               where c.org_id = auth.org_id() and c.deleted_at is null
                 and pg_catalog.starts_with(pg_catalog.lower(c.name), pg_catalog.lower(pg_catalog.btrim(p #>> '{customer,name}')))
               order by c.name, c.id
               limit 5) c;
      if v_candidates is not null then
        raise exception using errcode = '22023', hint = 'ambiguous_customer', column = 'customer',
          message = 'Customers with that name exist: pass customerId for one of candidates, or give an email or phone to add a new customer.',
          detail = pg_catalog.jsonb_build_object('candidates', v_candidates)::text;
      end if;
    end if;
    if v_id is null then
      -- A concurrent booking may be creating the same customer: the insert then waits for it
      -- and does nothing, and the select after it (a new snapshot) finds that customer.
      -- A new customer's last activity is this booking: written with the row, not updated after.
      insert into app.customers (org_id, name, email, phone, source, last_activity_at)
      values (auth.org_id(), pg_catalog.btrim(p #>> '{customer,name}'), v_email, v_phone, 'booking', pg_catalog.now())
      on conflict (org_id, email) where deleted_at is null and email is not null do nothing
      returning id into v_id;
      if v_id is not null then
        return v_id;
      end if;
      select c.id into v_id from app.customers c
       where c.org_id = auth.org_id() and c.email = v_email and c.deleted_at is null;
    end if;
  else
    perform app.raise_invalid('customer', 'required', 'Give customerId, or customer with a name and an email or phone.');
  end if;
  update app.customers set last_activity_at = pg_catalog.now() where org_id = auth.org_id() and id = v_id;
  return v_id;
end
$$;
comment on function app.booking_customer(jsonb) is 'The customer a booking is for: by customerId, else found by email (then phone) or created, once even when several bookings for the same new customer arrive together; a name alone that matches existing customers is refused with them as candidates.';
grant execute on function app.booking_customer(jsonb) to favcrm_member;

-- A start off the slot grid is refused with the nearest open slots, as a taken one is.
create function app.require_on_grid(s app.services, p_start timestamptz, p_staff uuid) returns void
language plpgsql stable set search_path = '' as $$
declare
  v_tz text;
  v_local timestamp;
  v_step int := coalesce(s.slot_interval_minutes, s.duration_minutes) * 60;
begin
  select o.timezone into v_tz from app.organisations o where o.id = s.org_id;
  v_local := p_start at time zone v_tz;
  if not exists (
      select from app.service_staff ss
        cross join lateral app.hours_on(ss.org_id, ss.staff_id, v_local::date) wh
       where ss.org_id = s.org_id and ss.service_id = s.id and (p_staff is null or ss.staff_id = p_staff)
         and v_local::time >= wh.start_time
         and v_local + pg_catalog.make_interval(mins => s.duration_minutes) <= v_local::date + wh.end_time
         and (extract(epoch from (v_local::time - wh.start_time))::int % v_step) = 0) then
    raise exception using errcode = '22023', hint = 'not_on_slot_grid', column = 'start',
      message = 'That start time is not one of this service''s slots; nearbySlots lists open ones.',
      detail = pg_catalog.jsonb_build_object('nearbySlots',
        app.slots_json(s.id, p_start - interval '3 hours', p_start + interval '7 days', p_staff, null, null, 5))::text;
  end if;
end
$$;
comment on function app.require_on_grid(app.services, timestamp with time zone, uuid) is 'Raises 422 not_on_slot_grid, with the nearest open slots, unless the start is on the service''s grid in an eligible staff member''s hours.';
grant execute on function app.require_on_grid(app.services, timestamptz, uuid) to favcrm_member;

-- Raises 409 slot_taken with the next open slots (DETAIL carries them as JSON).
create function app.raise_slot_taken(s app.services, p_start timestamptz, p_staff uuid, p_resource uuid, p_ignore uuid)
returns void
language plpgsql stable set search_path = '' as $$
begin
  raise exception using errcode = '23P01', hint = 'slot_taken',
    message = 'That slot is no longer free (another booking, time off or a closure). nearbySlots lists open ones.',
    detail = pg_catalog.jsonb_build_object('nearbySlots',
      app.slots_json(s.id, p_start - interval '3 hours', p_start + interval '7 days', p_staff, p_resource, p_ignore, 5))::text;
end
$$;
comment on function app.raise_slot_taken(app.services, timestamp with time zone, uuid, uuid, uuid) is 'Raises 409 slot_taken with the next open slots (DETAIL carries them as JSON).';
grant execute on function app.raise_slot_taken(app.services, timestamptz, uuid, uuid, uuid) to favcrm_member;

-- The staff a caller may book: staff members book only themselves.
create function app.bookable_staff(p_staff uuid) returns uuid
language plpgsql stable set search_path = '' as $$
declare
  v_own uuid;
begin
  if auth.role() <> 'staff' then
    return p_staff;
  end if;
  select st.id into v_own from app.staff st where st.org_id = auth.org_id() and st.user_id = auth.user_id();
  if v_own is null or (p_staff is not null and p_staff <> v_own) then
    raise exception using errcode = '42501', hint = 'forbidden', column = 'staffId',
      message = 'Staff can only book themselves; ask a manager to book a colleague.';
  end if;
  return v_own;
end
$$;
comment on function app.bookable_staff(uuid) is 'The staff member a caller may book: anyone for managers and above; staff members only themselves.';
grant execute on function app.bookable_staff(uuid) to favcrm_member;

create function app.lock_calendar(p_org uuid, p_holder uuid, p_range tstzrange) returns void
language plpgsql volatile set search_path = '' as $$
declare
  v_day date := (pg_catalog.lower(p_range) at time zone 'UTC')::date;
  v_last date := (pg_catalog.upper(p_range) at time zone 'UTC')::date;
begin
  -- One lock per UTC day the range touches, in order (no deadlocks): bookings on other days
  -- of the same person or room do not wait for each other. (Counted here rather than by a
  -- generate_series query: each statement of a function costs its own executor run.)
  loop
    perform pg_catalog.pg_advisory_xact_lock(
      pg_catalog.hashtextextended('favcrm.calendar.' || p_org::text || p_holder::text || v_day::text, 0));
    exit when v_day >= v_last;
    v_day := v_day + 1;
  end loop;
end
$$;
comment on function app.lock_calendar(uuid, uuid, tstzrange) is 'Transaction locks on the calendar of a staff member or a resource for the days a range touches, taken by appointments and class sessions before they check each other (they live in different tables, so no one constraint covers both).';
grant execute on function app.lock_calendar(uuid, uuid, tstzrange) to favcrm_member;

-- The staff who may take a start of a service, the least busy that day first (bookings starting
-- within 12 hours either side; not counted when the caller named one), then by name. SECURITY
-- DEFINER because the ordering counts every booking of the organisation, and under the owner's
-- policy (the organisation only) rather than the member's (which hides a colleague's bookings
-- from a staff key) the counts among 40 staff with 100,000 bookings took 170 instead of 300 us.
-- It returns the candidates' ids only, for the organisation in the request's claims; whether
-- each can take the start is checked by the caller (app.take_slot), under its own policies.
create function auth.staff_by_load(p_service uuid, p_start timestamptz, p_staff uuid)
returns table (staff_id uuid, user_id uuid)
language plpgsql stable security definer set search_path = '' set plan_cache_mode = force_generic_plan as $$
declare
  v_org uuid := auth.org_id();
begin
  return query
    select st.id, st.user_id
      from app.service_staff ss
      join app.staff st on st.org_id = ss.org_id and st.id = ss.staff_id and st.archived_at is null
     where ss.org_id = v_org and ss.service_id = p_service and (p_staff is null or st.id = p_staff)
     order by case when p_staff is null then
                (select count(*) from app.bookings x
                  where x.org_id = v_org and x.staff_id = st.id and x.active
                    and x.starts_at >= p_start - interval '12 hours' and x.starts_at < p_start + interval '12 hours') end,
              st.name;
end
$$;
comment on function auth.staff_by_load(uuid, timestamptz, uuid) is 'The staff of the claimed organisation who give the service and are not archived (p_staff alone when given), the least busy that day first, then by name. Whether each can take a start is for the caller to check.';
revoke all on function auth.staff_by_load(uuid, timestamptz, uuid) from public;
grant execute on function auth.staff_by_load(uuid, timestamptz, uuid) to favcrm_member;

-- Takes a slot: tries each staff member who can take it, and for each needed resource type
-- each free resource of that type, checking it again once its calendar is locked, until the
-- database accepts one. (Choosing the resources before the lock made two bookings at the same
-- time pick the same room and the second give up, though another room was free.)
create function app.take_slot(s app.services, p_start timestamptz, p_staff uuid, p_resource uuid,
                                         p_customer uuid, p_status text, p_notes text, p_from uuid)
returns app.bookings
language plpgsql set search_path = '' as $$
declare
  v_min_start timestamptz := pg_catalog.now() + pg_catalog.make_interval(mins => s.min_notice_minutes);
  c record;
  b app.bookings;
  v_end timestamptz := p_start + pg_catalog.make_interval(mins => s.duration_minutes);
  v_blocked tstzrange := pg_catalog.tstzrange(p_start - pg_catalog.make_interval(mins => s.buffer_before_minutes),
                                              v_end + pg_catalog.make_interval(mins => s.buffer_after_minutes));
  v_type text;
  v_pick uuid;
  v_held uuid[];
  v_resource uuid;
  v_tz text;
  v_local timestamp;
  v_open boolean;
  v_step int := coalesce(s.slot_interval_minutes, s.duration_minutes) * 60;
begin
  if p_start < pg_catalog.now() then
    raise exception using errcode = '22023', hint = 'in_the_past', column = 'start',
      message = 'That start time is in the past.';
  end if;
  if p_start < v_min_start then
    raise exception using errcode = '22023', hint = 'too_soon', column = 'start',
      message = pg_catalog.format('Bookings need %s minutes'' notice.', s.min_notice_minutes);
  end if;
  if p_start > pg_catalog.now() + pg_catalog.make_interval(days => s.max_advance_days) then
    raise exception using errcode = '22023', hint = 'too_far_ahead', column = 'start',
      message = pg_catalog.format('Bookings open %s days ahead.', s.max_advance_days);
  end if;
  select o.timezone into v_tz from app.organisations o where o.id = s.org_id;
  v_local := p_start at time zone v_tz;
  -- The staff who could take this one start, checked as the open slots are made (that local
  -- date's working hours with the start on their grid, no time off, no closure, no booking in
  -- the buffered range) but for this start alone: asking auth.open_slots cost most of a booking.
  -- The candidates come in order, the least busy that day first (auth.staff_by_load), and each
  -- is checked only when its turn comes: checking all of them first cost a booking among 40
  -- staff about 650 us, and the first usually can. What holds for the whole organisation is
  -- checked once, before any (v_open): a closure that day, and a wall-clock time that a DST
  -- change repeats (one slot, as the open slots have it); when either rules the start out, the
  -- candidates are not even listed (the loop's query has nothing but v_open to filter on).
  -- (The grid test repeats app.require_on_grid's on purpose: as a shared SQL helper it was not
  -- inlined, and the candidate search went from 2.0 to 11.3 ms.)
  -- The overlap test is written for the btree (org_id, staff_id, starts_at): a booking lasts at
  -- most 24 hours with 4-hour buffers either side, so one that overlaps starts within 29 hours
  -- before and 5 hours after. A booking this cannot see (a colleague's, for a staff key) is
  -- still refused by the exclusion constraint below, and the next candidate is tried.
  v_open := (v_local at time zone v_tz) = p_start
            and not exists (select from app.closures cl
                             where cl.org_id = s.org_id and v_local::date between cl.starts_on and cl.ends_on);
  for c in select * from auth.staff_by_load(s.id, p_start, p_staff) where v_open
  loop
    continue when not exists (select from app.hours_on(s.org_id, c.staff_id, v_local::date) wh
                               where v_local::time >= wh.start_time
                                 and v_end <= (v_local::date + wh.end_time) at time zone v_tz
                                 and (extract(epoch from (v_local::time - wh.start_time))::int % v_step) = 0)
               or exists (select from app.time_off t
                           where t.org_id = s.org_id and t.staff_id = c.staff_id and t.period && pg_catalog.tstzrange(p_start, v_end))
               or exists (select from app.bookings x
                           where x.org_id = s.org_id and x.staff_id = c.staff_id and x.active and x.class_session_id is null
                             and x.starts_at > pg_catalog.lower(v_blocked) - interval '29 hours'
                             and x.starts_at < pg_catalog.upper(v_blocked) + interval '5 hours'
                             and pg_catalog.lower(x.blocked) < pg_catalog.upper(v_blocked)
                             and pg_catalog.upper(x.blocked) > pg_catalog.lower(v_blocked)
                             and x.id is distinct from p_from);
    -- Appointments and class sessions live in different tables: both take these locks before
    -- they check each other, so neither can slip past the other.
    perform app.lock_calendar(s.org_id, c.staff_id, v_blocked);
    continue when exists (
      select from app.class_sessions cs
       where cs.org_id = s.org_id and cs.active and cs.blocked && v_blocked and cs.staff_id = c.staff_id);
    -- One resource per needed type (types in order, resources by name: every booking locks in
    -- the same order), free once locked: a statement after the lock sees what the booking that
    -- held it committed.
    v_held := '{}';
    if pg_catalog.cardinality(s.resource_types) > 0 then  -- (no query at all for a service without resources)
      for v_type in select t from pg_catalog.unnest(s.resource_types) t order by t loop
        v_pick := null;
        for v_resource in
          select r.id from app.resources r
           where r.org_id = s.org_id and r.archived_at is null and r.type = v_type
             and (p_resource is null or r.id = p_resource
                  or not exists (select from app.resources x where x.org_id = s.org_id and x.id = p_resource and x.type = r.type))
           order by r.name, r.id
        loop
          continue when not auth.resource_free(v_resource, v_blocked, p_from);
          perform app.lock_calendar(s.org_id, v_resource, v_blocked);
          if auth.resource_free(v_resource, v_blocked, p_from) then
            v_pick := v_resource;
            exit;
          end if;
        end loop;
        exit when v_pick is null;
        v_held := v_held || v_pick;
      end loop;
    end if;
    continue when pg_catalog.cardinality(v_held) < pg_catalog.cardinality(s.resource_types);
    begin
      insert into app.bookings (org_id, service_id, staff_id, staff_user_id, customer_id, status, starts_at, ends_at,
                                blocked, price_amount, currency, notes, rescheduled_from_id)
      values (s.org_id, s.id, c.staff_id, c.user_id, p_customer, p_status, p_start, v_end, v_blocked,
              s.price_amount, s.currency, p_notes, p_from)
      returning * into b;
      if pg_catalog.cardinality(v_held) > 0 then
        insert into app.booking_resources (org_id, booking_id, resource_id, staff_user_id, blocked, active)
        select b.org_id, b.id, r, b.staff_user_id, b.blocked, true from pg_catalog.unnest(v_held) r;
      end if;
      return b;
    exception when exclusion_violation then
      -- Taken by a concurrent booking since we looked: try the next staff member.
      null;
    end;
  end loop;
  -- No one could take it: a start off the grid says so (422 not_on_slot_grid), else it is taken.
  -- (Checked only here: the candidates above are on their grid, and asking first cost every
  -- booking a further query over the service's staff.)
  perform app.require_on_grid(s, p_start, p_staff);
  perform app.raise_slot_taken(s, p_start, p_staff, p_resource, p_from);
  return null;
end
$$;
comment on function app.take_slot(app.services, timestamptz, uuid, uuid, uuid, text, text, uuid) is 'Books p_start for the first staff member (p_staff, or the least busy that day) and one free resource per needed type, each chosen under its calendar lock; 409 slot_taken with nearby slots when none can be had.';
grant execute on function app.take_slot(app.services, timestamptz, uuid, uuid, uuid, text, text, uuid) to favcrm_member;

-- Takes a seat in the session of the service starting at p_start: the seat count is raised
-- only while below capacity, in this transaction, so a class never has more bookings than seats.
create function app.take_seat(s app.services, p_start timestamptz, p_staff uuid, p_customer uuid, p_status text,
                              p_notes text, p_from uuid) returns app.bookings
language plpgsql set search_path = '' as $$
declare
  cs app.class_sessions;
  b app.bookings;
begin
  if p_start < pg_catalog.now() + pg_catalog.make_interval(mins => s.min_notice_minutes) then
    raise exception using errcode = '22023', hint = 'too_soon', column = 'start',
      message = pg_catalog.format('Bookings need %s minutes'' notice.', s.min_notice_minutes);
  end if;
  select * into cs from app.class_sessions c
   where c.org_id = s.org_id and c.service_id = s.id and c.starts_at = p_start and c.active
     and (p_staff is null or c.staff_id = p_staff)
   order by c.booked_count
   limit 1;
  if not found then
    raise exception using errcode = '22023', hint = 'no_class_at_start', column = 'start',
      message = 'No class session of this service starts then; pick one from get_available_slots or list_class_sessions.';
  end if;
  if exists (select from app.bookings x where x.org_id = s.org_id and x.class_session_id = cs.id
                                          and x.customer_id = p_customer and x.active) then
    raise exception using errcode = '23505', hint = 'already_booked', message = 'This customer already has a seat in that class.';
  end if;
  update app.class_sessions set booked_count = booked_count + 1, updated_at = pg_catalog.now()
   where org_id = cs.org_id and id = cs.id and booked_count < capacity and active;
  if not found then
    raise exception using errcode = '23P01', hint = 'class_full',
      message = 'The class is full. join_waitlist puts the customer on its waiting list.',
      detail = pg_catalog.jsonb_build_object('classSessionId', cs.id)::text;
  end if;
  insert into app.bookings (org_id, service_id, staff_id, staff_user_id, customer_id, status, starts_at, ends_at, blocked,
                            price_amount, currency, notes, rescheduled_from_id, class_session_id)
  values (s.org_id, s.id, cs.staff_id, cs.staff_user_id, p_customer, p_status, cs.starts_at, cs.ends_at, cs.blocked,
          s.price_amount, s.currency, p_notes, p_from, cs.id)
  returning * into b;
  return b;
end
$$;
comment on function app.take_seat(app.services, timestamp with time zone, uuid, uuid, text, text, uuid) is 'Takes a seat in the class session starting then: the seat count rises only while below capacity, so a class never has more bookings than seats.';
grant execute on function app.take_seat(app.services, timestamptz, uuid, uuid, text, text, uuid) to favcrm_member;

create function api.create_booking(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  s app.services;
  v_staff uuid;
  b app.bookings;
begin
  perform auth.require_scope('bookings:write');
  s := app.service_for((p ->> 'serviceId')::uuid, false);
  if s.archived_at is not null then
    raise exception using errcode = '55000', hint = 'service_archived', message = 'This service is archived and cannot be booked.';
  end if;
  if coalesce(p ->> 'staffId', 'any') <> 'any' then
    v_staff := (app.staff_for((p ->> 'staffId')::uuid)).id;
  end if;
  v_staff := app.bookable_staff(v_staff);
  perform app.require_usable_resource(s, (p ->> 'resourceId')::uuid);
  if s.capacity > 1 then
    b := app.take_seat(s, (p ->> 'start')::timestamptz, v_staff, app.booking_customer(p),
                       case when s.requires_confirmation then 'pending' else 'confirmed' end, p ->> 'notes', null);
  else
    b := app.take_slot(s, (p ->> 'start')::timestamptz, v_staff, (p ->> 'resourceId')::uuid, app.booking_customer(p),
                       case when s.requires_confirmation then 'pending' else 'confirmed' end, p ->> 'notes', null);
  end if;
  -- Paid with a credit: spent in this transaction, so a booking without its credit never stands.
  -- A service set to take credits spends one when the customer has one (payWith price: never).
  if p ->> 'payWith' = 'credits' then
    b := app.spend_credit(b, true);
  elsif p ->> 'payWith' is null and s.pay_with_credits then
    b := app.spend_credit(b, false);
  end if;
  return app.booking_json(b);
end
$$;
comment on function api.create_booking(jsonb) is 'Books a slot: pending when the service needs confirmation, else confirmed. The slot is checked again here and guarded by an exclusion constraint; a clash is 409 slot_taken with nearby open slots. payWith credits spends one of the customer''s credits in the same transaction (409 no_credits).';
grant execute on function api.create_booking(jsonb) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- A booking's life: confirm, decline, cancel, reschedule, check in, complete, no-show
-- ---------------------------------------------------------------------------------------
create function app.booking_for_update(p jsonb) returns app.bookings
language plpgsql set search_path = '' as $$
declare
  b app.bookings;
begin
  select * into b from app.bookings where org_id = auth.org_id() and id = (p ->> 'bookingId')::uuid for update;
  if not found then
    perform app.not_found('booking');
  end if;
  return b;
end
$$;
comment on function app.booking_for_update(jsonb) is 'The booking named by bookingId, locked FOR UPDATE, or raises not_found.';
grant execute on function app.booking_for_update(jsonb) to favcrm_member;

create function app.require_status(b app.bookings, p_allowed text[], p_action text) returns void
language plpgsql stable set search_path = '' as $$
begin
  if b.status <> all (p_allowed) then
    raise exception using errcode = '55000', hint = 'invalid_booking_state',
      message = pg_catalog.format('A %s booking cannot be %s (allowed from: %s).', b.status, p_action,
                                  pg_catalog.array_to_string(p_allowed, ', '));
  end if;
end
$$;
comment on function app.require_status(app.bookings, text[], text) is 'Raises 409 invalid_booking_state unless the booking is in one of the allowed statuses.';
grant execute on function app.require_status(app.bookings, text[], text) to favcrm_member;

create function app.set_booking_status(b app.bookings, p_status text) returns app.bookings
language plpgsql set search_path = '' as $$
begin
  update app.bookings set status = p_status, updated_at = pg_catalog.now()
   where org_id = b.org_id and id = b.id
   returning * into b;
  return b;
end
$$;
comment on function app.set_booking_status(app.bookings, text) is 'Sets a booking''s status and returns the updated row.';
grant execute on function app.set_booking_status(app.bookings, text) to favcrm_member;

-- One definition of a late cancellation, for cancelling and for its preview.
create function app.late_cancel(b app.bookings) returns boolean
language sql stable set search_path = '' as $$
  select pg_catalog.now() > b.starts_at - pg_catalog.make_interval(hours => s.free_cancel_hours)
    from app.services s
   where s.org_id = b.org_id and s.id = b.service_id
$$;
comment on function app.late_cancel(app.bookings) is 'Whether cancelling the booking now is late under its service''s policy (inside freeCancelHours of the start).';
grant execute on function app.late_cancel(app.bookings) to favcrm_member;

create function api.get_booking(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  b app.bookings;
begin
  perform auth.require_scope('bookings:read');
  select * into b from app.bookings where org_id = auth.org_id() and id = (p ->> 'bookingId')::uuid;
  if not found then
    perform app.not_found('booking');
  end if;
  return app.booking_json(b);
end
$$;
comment on function api.get_booking(jsonb) is 'Returns one booking (staff: only their own).';
grant execute on function api.get_booking(jsonb) to favcrm_member;

-- The API representation of a booking in a list, field by field as app.booking_json has it.
drop type if exists app.booking_out cascade;
create type app.booking_out as (
  "id" uuid, "serviceId" uuid, "service" json, "staffId" uuid, "staff" json, "customerId" uuid, "customer" json,
  "resourceIds" uuid[], "status" text, "startsAt" text, "endsAt" text, "price" jsonb, "notes" text,
  "cancelledAt" text, "cancelledByUserId" uuid, "cancelReason" text, "lateCancel" boolean, "fee" jsonb,
  "rescheduledFromId" uuid, "rescheduledToId" uuid, "classSessionId" uuid, "invoiceId" uuid, "paidWith" text,
  "creditGrantId" uuid, "createdAt" text, "updatedAt" text);
comment on type app.booking_out is 'A booking as api.list_bookings writes it: the same fields and values as app.booking_json.';

-- Two statements. The page's ids: through EXECUTE, planned for the filters given (cheap to
-- plan: it builds no JSON), or for the first unfiltered page a static statement. Then the page's JSON in one static statement whose plan is
-- cached (plan_cache_mode): the service, staff member, customer, resources and successor of the
-- page's bookings joined once, instead of app.booking_json's five subqueries for each booking
-- (about 80 us a booking) inside a statement planned afresh on every call.
create function api.list_bookings(p jsonb) returns json
language plpgsql stable set search_path = '' set plan_cache_mode = force_generic_plan as $$
declare
  v_org uuid := auth.org_id();
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
  v_after_start timestamptz;
  v_from timestamptz := (p ->> 'from')::timestamptz;
  v_to timestamptz := (p ->> 'to')::timestamptz;
  v_statuses text[] := case pg_catalog.jsonb_typeof(p -> 'status')
                         when 'array' then array(select pg_catalog.jsonb_array_elements_text(p -> 'status'))
                         when 'string' then array[p ->> 'status'] end;
  v_active boolean := coalesce((p ->> 'active')::boolean, false);
  v_staff uuid := (p ->> 'staffId')::uuid;
  v_customer uuid := (p ->> 'customerId')::uuid;
  v_ids uuid[];
begin
  perform auth.require_scope('bookings:read');
  if v_after is not null then
    select b.starts_at into v_after_start from app.bookings b where b.org_id = v_org and b.id = v_after;
  end if;
  if v_from is null and v_to is null and v_after is null and v_statuses is null and not v_active
     and v_staff is null and v_customer is null then
    -- The first page of everything: one static statement under the cached plan. (A range as
    -- coalesced bounds in a static statement was not an index condition under the generic
    -- plan: a week in the future read 19,000 bookings to find 26.)
    select coalesce(pg_catalog.array_agg(b.id order by b.starts_at, b.id), '{}') into v_ids
      from (select b.id, b.starts_at from app.bookings b
             where b.org_id = v_org
             order by b.starts_at, b.id
             limit v_limit + 1) b;
  else
  execute $query$
    select coalesce(pg_catalog.array_agg(b.id order by b.starts_at, b.id), '{}')
      from (select b.id, b.starts_at from app.bookings b
             where b.org_id = $1
               and ($2::timestamptz is null or b.starts_at >= $2) and ($3::timestamptz is null or b.starts_at < $3)
               and ($4::text[] is null or b.status = any ($4))
               and (not $5 or b.active)
               and ($6::uuid is null or b.staff_id = $6)
               and ($7::uuid is null or b.customer_id = $7)
               and ($8::timestamptz is null or (b.starts_at, b.id) > ($8, $9))
             order by b.starts_at, b.id
             limit $10 + 1) b
  $query$ into v_ids using v_org, v_from, v_to, v_statuses, v_active, v_staff, v_customer, v_after_start, v_after, v_limit;
  end if;
  return (
    select app.page_json(pg_catalog.json_agg(pg_catalog.to_json(row(
             b.id, b.service_id, case when sv.id is not null then pg_catalog.json_build_object('id', sv.id, 'name', sv.name) end,
             b.staff_id, case when st.id is not null then pg_catalog.json_build_object('id', st.id, 'name', st.name) end,
             b.customer_id, case when c.id is not null then pg_catalog.json_build_object('id', c.id, 'name', c.name) end,
             coalesce(r.ids, '{}'), b.status, app.ts(b.starts_at), app.ts(b.ends_at), app.money(b.price_amount, b.currency),
             b.notes, app.ts(b.cancelled_at), b.cancelled_by_user_id, b.cancel_reason, b.late_cancel,
             case when b.fee_amount is null then null else app.money(b.fee_amount, b.currency) end,
             b.rescheduled_from_id, n.id, b.class_session_id, b.invoice_id,
             case when b.credit_grant_id is not null then 'credits' end, b.credit_grant_id, app.ts(b.created_at),
             app.ts(b.updated_at))::app.booking_out)
             order by p.n) filter (where p.n <= v_limit),
           (pg_catalog.array_agg(b.id) filter (where p.n = v_limit))[1],
           pg_catalog.count(*) > v_limit)
      from pg_catalog.unnest(v_ids) with ordinality p (id, n)
      join app.bookings b on b.org_id = v_org and b.id = p.id
      left join app.services sv on sv.org_id = b.org_id and sv.id = b.service_id
      left join app.staff st on st.org_id = b.org_id and st.id = b.staff_id
      left join app.customers c on c.org_id = b.org_id and c.id = b.customer_id
      left join lateral (select pg_catalog.array_agg(br.resource_id order by br.resource_id) ids
                           from app.booking_resources br
                          where br.org_id = b.org_id and br.booking_id = b.id) r on true
      left join lateral (select x.id from app.bookings x
                          where x.org_id = b.org_id and x.rescheduled_from_id = b.id limit 1) n on true);
end
$$;
comment on function api.list_bookings(jsonb) is 'Lists bookings by start time, filtered by range, one or several statuses, active only, staff or customer (staff: only their own).';
grant execute on function api.list_bookings(jsonb) to favcrm_member;

create function api.confirm_booking(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  b app.bookings;
begin
  perform auth.require_scope('bookings:write');
  b := app.booking_for_update(p);
  if b.status = 'confirmed' then
    return app.booking_json(b);
  end if;
  perform app.require_status(b, array['pending'], 'confirmed');
  return app.booking_json(app.set_booking_status(b, 'confirmed'));
end
$$;
comment on function api.confirm_booking(jsonb) is 'Confirms a pending booking. Confirming twice changes nothing.';
grant execute on function api.confirm_booking(jsonb) to favcrm_member;

create function api.decline_booking(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  b app.bookings;
begin
  perform auth.require_scope('bookings:write');
  b := app.booking_for_update(p);
  perform auth.require_confirmation('decline_booking');
  if b.status = 'declined' then
    return app.booking_json(b);
  end if;
  perform app.require_status(b, array['pending'], 'declined');
  update app.bookings set status = 'declined', cancel_reason = p ->> 'reason', updated_at = pg_catalog.now()
   where org_id = b.org_id and id = b.id returning * into b;
  perform app.return_credit(b, 'Declined');
  return app.booking_json(b);
end
$$;
comment on function api.decline_booking(jsonb) is 'Declines a pending booking request; the slot opens again.';
grant execute on function api.decline_booking(jsonb) to favcrm_member;

create function api.cancel_booking(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  b app.bookings;
  s app.services;
  v_late boolean;
begin
  perform auth.require_scope('bookings:write');
  b := app.booking_for_update(p);
  perform auth.require_confirmation('cancel_booking');
  if b.status = 'cancelled' then
    return app.booking_json(b);
  end if;
  perform app.require_status(b, array['pending', 'confirmed'], 'cancelled');
  select * into s from app.services where org_id = b.org_id and id = b.service_id;
  v_late := app.late_cancel(b);
  update app.bookings set
    status = 'cancelled', cancelled_at = pg_catalog.now(), cancelled_by_user_id = auth.user_id(),
    cancel_reason = p ->> 'reason', late_cancel = v_late,
    fee_amount = case when v_late then s.late_cancel_fee_amount else 0 end, updated_at = pg_catalog.now()
   where org_id = b.org_id and id = b.id returning * into b;
  -- A credit comes back from a free cancellation; a late one keeps it (the service's policy).
  if not v_late then
    perform app.return_credit(b, 'Cancelled in time');
  end if;
  -- Only a fee the service bills by itself starts an invoice (the service is at hand here).
  if s.invoice_fees and b.fee_amount > 0 and auth.bill_booking(b.id) is not null then
    select * into b from app.bookings where org_id = b.org_id and id = b.id;
  end if;
  return app.booking_json(b);
end
$$;
comment on function api.cancel_booking(jsonb) is 'Cancels a booking, recording who, why, whether it was late under the service''s policy and the fee due. Cancelling twice changes nothing.';
grant execute on function api.cancel_booking(jsonb) to favcrm_member;

create function api.reschedule_booking(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  o app.bookings;
  s app.services;
  v_staff uuid;
  n app.bookings;
begin
  perform auth.require_scope('bookings:write');
  o := app.booking_for_update(p);
  perform app.require_status(o, array['pending', 'confirmed'], 'rescheduled');
  select * into s from app.services where org_id = o.org_id and id = o.service_id;
  if coalesce(p ->> 'staffId', 'same') = 'same' and s.capacity > 1 then
    v_staff := null;
  elsif coalesce(p ->> 'staffId', 'same') = 'same' then
    v_staff := o.staff_id;
  elsif p ->> 'staffId' <> 'any' then
    v_staff := (app.staff_for((p ->> 'staffId')::uuid)).id;
  end if;
  v_staff := app.bookable_staff(v_staff);
  -- Free the old time first (same transaction): a move by 30 minutes may overlap itself.
  update app.bookings set status = 'cancelled', cancelled_at = pg_catalog.now(), cancelled_by_user_id = auth.user_id(),
                          cancel_reason = 'rescheduled', late_cancel = false, fee_amount = 0, updated_at = pg_catalog.now()
   where org_id = o.org_id and id = o.id;
  if s.capacity > 1 then
    n := app.take_seat(s, (p ->> 'start')::timestamptz, case when p ->> 'staffId' = 'same' then null else v_staff end,
                       o.customer_id, o.status, o.notes, o.id);
  else
    n := app.take_slot(s, (p ->> 'start')::timestamptz, v_staff, null, o.customer_id, o.status, o.notes, o.id);
  end if;
  -- The credit that paid for the old time pays for the new one.
  if o.credit_grant_id is not null then
    update app.bookings set credit_grant_id = o.credit_grant_id where org_id = n.org_id and id = n.id returning * into n;
  end if;
  return app.booking_json(n);
end
$$;
comment on function api.reschedule_booking(jsonb) is 'Moves a booking atomically: the new time is checked and taken and the old one freed in one transaction, or nothing changes. The new booking links to the old (rescheduledFromId).';
grant execute on function api.reschedule_booking(jsonb) to favcrm_member;

create function api.check_in_booking(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  b app.bookings;
begin
  perform auth.require_scope('bookings:write');
  b := app.booking_for_update(p);
  if b.status = 'checked_in' then
    return app.booking_json(b);
  end if;
  perform app.require_status(b, array['confirmed'], 'checked in');
  return app.booking_json(app.set_booking_status(b, 'checked_in'));
end
$$;
comment on function api.check_in_booking(jsonb) is 'Marks that the customer arrived.';
grant execute on function api.check_in_booking(jsonb) to favcrm_member;

create function api.complete_booking(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  b app.bookings;
begin
  perform auth.require_scope('bookings:write');
  b := app.booking_for_update(p);
  if b.status = 'completed' then
    return app.booking_json(b);
  end if;
  perform app.require_status(b, array['confirmed', 'checked_in'], 'completed');
  if pg_catalog.now() < b.starts_at then
    raise exception using errcode = '55000', hint = 'not_started', message = 'A booking can be completed only once it has started.';
  end if;
  b := app.set_booking_status(b, 'completed');
  if auth.bill_booking(b.id) is not null then
    select * into b from app.bookings where org_id = b.org_id and id = b.id;
  end if;
  return app.booking_json(b);
end
$$;
comment on function api.complete_booking(jsonb) is 'Marks a booking done (after its start); a service set to invoice on completion starts a draft invoice for its price.';
grant execute on function api.complete_booking(jsonb) to favcrm_member;

create function api.mark_no_show(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  b app.bookings;
  s app.services;
begin
  perform auth.require_scope('bookings:write');
  b := app.booking_for_update(p);
  perform auth.require_confirmation('mark_no_show');
  if b.status = 'no_show' then
    return app.booking_json(b);
  end if;
  perform app.require_status(b, array['pending', 'confirmed'], 'marked as a no-show');
  if pg_catalog.now() < b.starts_at then
    raise exception using errcode = '55000', hint = 'not_started',
      message = 'A customer can be marked as a no-show only after the booking''s start time.';
  end if;
  select * into s from app.services where org_id = b.org_id and id = b.service_id;
  update app.bookings set status = 'no_show', fee_amount = s.no_show_fee_amount, updated_at = pg_catalog.now()
   where org_id = b.org_id and id = b.id returning * into b;
  if s.invoice_fees and b.fee_amount > 0 and auth.bill_booking(b.id) is not null then
    select * into b from app.bookings where org_id = b.org_id and id = b.id;
  end if;
  return app.booking_json(b);
end
$$;
comment on function api.mark_no_show(jsonb) is 'Marks that the customer did not come (only after the start), with the service''s no-show fee.';
grant execute on function api.mark_no_show(jsonb) to favcrm_member;

create function api.preview_booking_change(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  b app.bookings;
  s app.services;
  v_op text := auth.claims() ->> 'op';
  v_late boolean;
  v_effect jsonb;
begin
  perform auth.require_scope('bookings:read');
  select * into b from app.bookings where org_id = auth.org_id() and id = (p ->> 'bookingId')::uuid;
  if not found then
    perform app.not_found('booking');
  end if;
  select * into s from app.services where org_id = b.org_id and id = b.service_id;
  v_late := app.late_cancel(b);
  v_effect := case v_op
    when 'cancel_booking' then pg_catalog.jsonb_build_object(
      'status', 'cancelled',
      'lateCancel', v_late,
      'freeCancellationUntil', app.ts(b.starts_at - pg_catalog.make_interval(hours => s.free_cancel_hours)),
      'fee', app.money(case when v_late then s.late_cancel_fee_amount else 0 end, b.currency))
    when 'mark_no_show' then pg_catalog.jsonb_build_object(
      'status', 'no_show', 'fee', app.money(s.no_show_fee_amount, b.currency))
    when 'decline_booking' then pg_catalog.jsonb_build_object('status', 'declined')
    else pg_catalog.jsonb_build_object()
  end || pg_catalog.jsonb_build_object(
    'timeFreed', b.active,
    -- favcrm does not message customers yet: whoever confirms tells the customer.
    'customerNotified', false);
  return pg_catalog.jsonb_build_object('target', app.booking_json(b), 'effect', v_effect);
end
$$;
comment on function api.preview_booking_change(jsonb) is 'Not an operation of the catalog: the preview a confirmation shows for cancel_booking, mark_no_show and decline_booking: the booking and the effect (new status, late or not under the policy, the fee with its currency, whether the time is freed, whether the customer is told).';
grant execute on function api.preview_booking_change(jsonb) to favcrm_member;

create function api.get_booking_stats(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_from timestamptz := (p ->> 'from')::timestamptz;
  v_to timestamptz := (p ->> 'to')::timestamptz;
begin
  perform auth.require_scope('bookings:read');
  if v_to <= v_from then
    perform app.raise_invalid('to', 'range_end_before_start', 'to must be after from.');
  end if;
  if v_to - v_from > interval '366 days' then
    perform app.raise_invalid('to', 'range_too_long', 'Ask for at most 366 days at a time.');
  end if;
  return (
    select pg_catalog.jsonb_build_object(
      'from', app.ts(v_from), 'to', app.ts(v_to), 'countedBy', 'startsAt',
      'total', count(*) filter (where not x.moved),
      'rescheduled', count(*) filter (where x.moved),
      'byStatus', pg_catalog.jsonb_build_object(
        'pending', count(*) filter (where x.status = 'pending'),
        'confirmed', count(*) filter (where x.status = 'confirmed'),
        'declined', count(*) filter (where x.status = 'declined'),
        'cancelled', count(*) filter (where x.status = 'cancelled' and not x.moved),
        'checkedIn', count(*) filter (where x.status = 'checked_in'),
        'completed', count(*) filter (where x.status = 'completed'),
        'noShow', count(*) filter (where x.status = 'no_show')))
      from (select b.status,
                   exists (select from app.bookings n where n.org_id = b.org_id and n.rescheduled_from_id = b.id) as moved
              from app.bookings b
             where b.org_id = auth.org_id() and b.starts_at >= v_from and b.starts_at < v_to) x);
end
$$;
comment on function api.get_booking_stats(jsonb) is 'Counts bookings that start in a range of at most 366 days by status; a rescheduled booking''s old time counts under rescheduled, not as a cancellation (staff: their own).';
grant execute on function api.get_booking_stats(jsonb) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Classes and waiting lists
-- ---------------------------------------------------------------------------------------
create function api.schedule_class_session(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  s app.services;
  st app.staff;
  v_tz text;
  v_local timestamp;
  v_weeks int := coalesce((p ->> 'repeatWeeks')::int, 1);
  v_capacity int;
  v_series uuid;
  v_start timestamptz;
  v_end timestamptz;
  v_blocked tstzrange;
  v_resource uuid := (p ->> 'resourceId')::uuid;
  v_ids uuid[] := '{}';
  cs app.class_sessions;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  s := app.service_for((p ->> 'serviceId')::uuid, false);
  if s.capacity <= 1 then
    perform app.raise_invalid('serviceId', 'not_a_class', 'Only services with a capacity above 1 have class sessions.');
  end if;
  if s.archived_at is not null then
    raise exception using errcode = '55000', hint = 'service_archived', message = 'This service is archived.';
  end if;
  st := app.staff_for((p ->> 'staffId')::uuid);
  if v_resource is not null and not exists (select from app.resources r where r.org_id = s.org_id and r.id = v_resource) then
    perform app.not_found('resource');
  end if;
  v_capacity := coalesce((p ->> 'capacity')::int, s.capacity);
  if v_weeks not between 1 and 52 then
    perform app.raise_invalid('repeatWeeks', 'out_of_range', 'repeatWeeks must be between 1 and 52.');
  end if;
  if v_weeks > 1 then
    v_series := app.uuid_v7();
  end if;
  select o.timezone into v_tz from app.organisations o where o.id = s.org_id;
  -- Weekly at the same wall-clock time, whatever DST does in between.
  v_local := (p ->> 'start')::timestamptz at time zone v_tz;

  for i in 0 .. v_weeks - 1 loop
    v_start := (v_local + pg_catalog.make_interval(days => 7 * i)) at time zone v_tz;
    v_end := v_start + pg_catalog.make_interval(mins => s.duration_minutes);
    v_blocked := pg_catalog.tstzrange(v_start - pg_catalog.make_interval(mins => s.buffer_before_minutes),
                                      v_end + pg_catalog.make_interval(mins => s.buffer_after_minutes));
    if v_start <= pg_catalog.now() then
      perform app.raise_invalid('start', 'must_be_future', 'Class sessions must start in the future.');
    end if;
    perform app.lock_calendar(s.org_id, st.id, v_blocked);
    if v_resource is not null then
      perform app.lock_calendar(s.org_id, v_resource, v_blocked);
    end if;
    if exists (select from app.bookings b where b.org_id = s.org_id and b.staff_id = st.id and b.active
                                            and b.class_session_id is null and b.blocked && v_blocked)
       or (v_resource is not null and exists (
             select from app.booking_resources br where br.org_id = s.org_id and br.resource_id = v_resource
                                                    and br.active and br.blocked && v_blocked)) then
      raise exception using errcode = '23P01', hint = 'slot_taken',
        message = pg_catalog.format('The staff member or room is booked at %s; nothing was scheduled.', app.ts(v_start));
    end if;
    begin
      insert into app.class_sessions (org_id, service_id, staff_id, staff_user_id, resource_id, series_id, starts_at,
                                      ends_at, blocked, capacity)
      values (s.org_id, s.id, st.id, st.user_id, v_resource, v_series, v_start, v_end, v_blocked, v_capacity)
      returning * into cs;
    exception when exclusion_violation then
      raise exception using errcode = '23P01', hint = 'slot_taken',
        message = pg_catalog.format('Another class session overlaps %s; nothing was scheduled.', app.ts(v_start));
    end;
    v_ids := v_ids || cs.id;
  end loop;
  return pg_catalog.jsonb_build_object('seriesId', v_series, 'items', (
    select pg_catalog.jsonb_agg(app.class_session_json(c) order by c.starts_at)
      from app.class_sessions c where c.org_id = s.org_id and c.id = any (v_ids)));
end
$$;
comment on function api.schedule_class_session(jsonb) is 'Schedules a class session (or one a week for repeatWeeks weeks, all or nothing) for a service with capacity above 1.';
grant execute on function api.schedule_class_session(jsonb) to favcrm_member;

create function api.list_class_sessions(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_from timestamptz := coalesce((p ->> 'from')::timestamptz, pg_catalog.now());
  v_to timestamptz := coalesce((p ->> 'to')::timestamptz, v_from + interval '31 days');
begin
  perform auth.require_scope('bookings:read');
  if v_to <= v_from then
    perform app.raise_invalid('to', 'range_end_before_start', 'to must be after from.');
  end if;
  if v_to - v_from > interval '92 days' then
    perform app.raise_invalid('to', 'range_too_long', 'Ask for at most 92 days at a time.');
  end if;
  return pg_catalog.jsonb_build_object('items', coalesce((
    select pg_catalog.jsonb_agg(app.class_session_json(cs) order by cs.starts_at, cs.id)
      from app.class_sessions cs
     where cs.org_id = auth.org_id() and cs.starts_at >= v_from and cs.starts_at < v_to
       and (p ->> 'serviceId' is null or cs.service_id = (p ->> 'serviceId')::uuid)
       and (p ->> 'staffId' is null or cs.staff_id = (p ->> 'staffId')::uuid)
       and (coalesce((p ->> 'includeCancelled')::boolean, false) or cs.active)), '[]'::jsonb));
end
$$;
comment on function api.list_class_sessions(jsonb) is 'Lists class sessions in a range (default the next 31 days) with seats booked, left and waiting.';
grant execute on function api.list_class_sessions(jsonb) to favcrm_member;

create function api.cancel_class_session(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  cs app.class_sessions;
  v_cancelled uuid[];
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  select * into cs from app.class_sessions where org_id = auth.org_id() and id = (p ->> 'classSessionId')::uuid for update;
  if not found then
    perform app.not_found('class session');
  end if;
  perform auth.require_confirmation('cancel_class_session');
  if not cs.active then
    return app.class_session_json(cs);
  end if;
  -- The session first, so that freed seats are not offered to the waiting list.
  update app.class_sessions set status = 'cancelled', updated_at = pg_catalog.now()
   where org_id = cs.org_id and id = cs.id;
  with cancelled as (
    update app.bookings set status = 'cancelled', cancelled_at = pg_catalog.now(), cancelled_by_user_id = auth.user_id(),
                            cancel_reason = coalesce(p ->> 'reason', 'class cancelled'), late_cancel = false, fee_amount = 0,
                            updated_at = pg_catalog.now()
     where org_id = cs.org_id and class_session_id = cs.id and active
    returning id)
  select pg_catalog.array_agg(c.id) into v_cancelled from cancelled c;
  -- Their credits come back: the business cancelled.
  perform app.return_credit(b, 'Class cancelled')
     from app.bookings b
    where b.org_id = cs.org_id and b.id = any (v_cancelled) and b.credit_grant_id is not null;
  update app.waitlist_entries set status = 'closed', updated_at = pg_catalog.now()
   where org_id = cs.org_id and class_session_id = cs.id and status = 'waiting';
  select * into cs from app.class_sessions where org_id = cs.org_id and id = cs.id;
  return app.class_session_json(cs);
end
$$;
comment on function api.cancel_class_session(jsonb) is 'Cancels a class session with all its seat bookings (no fees) and closes its waiting list.';
grant execute on function api.cancel_class_session(jsonb) to favcrm_member;

create function api.join_waitlist(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  cs app.class_sessions;
  v_customer uuid;
  w app.waitlist_entries;
begin
  perform auth.require_scope('bookings:write');
  select * into cs from app.class_sessions where org_id = auth.org_id() and id = (p ->> 'classSessionId')::uuid for update;
  if not found then
    perform app.not_found('class session');
  end if;
  if not cs.active or cs.starts_at <= pg_catalog.now() then
    raise exception using errcode = '55000', hint = 'class_not_open', message = 'The class session is cancelled or has started.';
  end if;
  if cs.booked_count < cs.capacity then
    raise exception using errcode = '55000', hint = 'seats_available',
      message = 'The class has free seats: book one with create_booking instead.';
  end if;
  v_customer := app.booking_customer(p);
  if exists (select from app.bookings b where b.org_id = cs.org_id and b.class_session_id = cs.id
                                          and b.customer_id = v_customer and b.active) then
    raise exception using errcode = '23505', hint = 'already_booked', message = 'This customer already has a seat in that class.';
  end if;
  begin
    insert into app.waitlist_entries (org_id, class_session_id, customer_id, staff_user_id)
    values (cs.org_id, cs.id, v_customer, cs.staff_user_id)
    returning * into w;
  exception when unique_violation then
    raise exception using errcode = '23505', hint = 'already_waiting', message = 'This customer is already on the waiting list.';
  end;
  return app.waitlist_entry_json(w);
end
$$;
comment on function api.join_waitlist(jsonb) is 'Puts a customer on the waiting list of a full class session; a freed seat goes to the first in line.';
grant execute on function api.join_waitlist(jsonb) to favcrm_member;

create function api.leave_waitlist(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  w app.waitlist_entries;
begin
  perform auth.require_scope('bookings:write');
  select * into w from app.waitlist_entries where org_id = auth.org_id() and id = (p ->> 'waitlistEntryId')::uuid for update;
  if not found then
    perform app.not_found('waiting list entry');
  end if;
  if w.status = 'waiting' then
    update app.waitlist_entries set status = 'left', updated_at = pg_catalog.now()
     where org_id = w.org_id and id = w.id
     returning * into w;
  end if;
  return app.waitlist_entry_json(w);
end
$$;
comment on function api.leave_waitlist(jsonb) is 'Takes a customer off a waiting list. Leaving twice changes nothing.';
grant execute on function api.leave_waitlist(jsonb) to favcrm_member;

create function api.list_waitlist(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  cs app.class_sessions;
begin
  perform auth.require_scope('bookings:read');
  select * into cs from app.class_sessions where org_id = auth.org_id() and id = (p ->> 'classSessionId')::uuid;
  if not found then
    perform app.not_found('class session');
  end if;
  return pg_catalog.jsonb_build_object('items', coalesce((
    select pg_catalog.jsonb_agg(app.waitlist_entry_json(w) order by w.id)
      from app.waitlist_entries w
     where w.org_id = cs.org_id and w.class_session_id = cs.id
       and (coalesce((p ->> 'includeAll')::boolean, false) or w.status = 'waiting')), '[]'::jsonb));
end
$$;
comment on function api.list_waitlist(jsonb) is 'The waiting list of a class session, first in line first.';
grant execute on function api.list_waitlist(jsonb) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Blocking time answers with the bookings that fall in it
-- ---------------------------------------------------------------------------------------
create function app.bookings_outside_hours(p_staff uuid, p_date date) returns jsonb
language sql stable set search_path = '' as $$
  select coalesce(pg_catalog.jsonb_agg(app.booking_json(b) order by b.starts_at), '[]'::jsonb)
    from app.bookings b
    join app.organisations o on o.id = b.org_id
   where b.org_id = auth.org_id() and b.staff_id = p_staff and b.active
     and (b.starts_at at time zone o.timezone)::date = p_date
     and not exists (select from app.hours_on(b.org_id, p_staff, p_date) h
                      where (b.starts_at at time zone o.timezone)::time >= h.start_time
                        and (b.ends_at at time zone o.timezone) <= p_date + h.end_time)
$$;
comment on function app.bookings_outside_hours(uuid, date) is 'The active bookings of a staff member that start on a date (organisation''s zone) outside that date''s hours as they are now.';
grant execute on function app.bookings_outside_hours(uuid, date) to favcrm_member;
