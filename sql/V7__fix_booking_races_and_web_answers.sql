-- Fixes from the outside review: bookings that lost a race they should have won, and a web
-- page's booking answer that told whether a customer already existed.

-- ---------------------------------------------------------------------------------------
-- Resources are chosen under their lock
-- ---------------------------------------------------------------------------------------

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

-- Takes a slot: tries each staff member who can take it, and for each needed resource type
-- each free resource of that type, checking it again once its calendar is locked, until the
-- database accepts one. (Choosing the resources before the lock made two bookings at the same
-- time pick the same room and the second give up, though another room was free.)
create or replace function app.take_slot(s app.services, p_start timestamptz, p_staff uuid, p_resource uuid,
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
  perform app.require_on_grid(s, p_start, p_staff);
  for c in
    select o.staff_id, st.user_id
      from auth.open_slots(s.id, p_start, p_start + interval '1 second', p_staff, p_resource, p_from) o
      join app.staff st on st.org_id = s.org_id and st.id = o.staff_id
     where o.starts_at = p_start
     -- "any": the least busy that day first.
     order by (select count(*) from app.bookings x
                where x.org_id = s.org_id and x.staff_id = o.staff_id and x.active
                  and x.starts_at >= p_start - interval '12 hours' and x.starts_at < p_start + interval '12 hours'), st.name
  loop
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
    continue when pg_catalog.cardinality(v_held) < pg_catalog.cardinality(s.resource_types);
    begin
      insert into app.bookings (org_id, service_id, staff_id, staff_user_id, customer_id, status, starts_at, ends_at,
                                blocked, price_amount, currency, notes, rescheduled_from_id)
      values (s.org_id, s.id, c.staff_id, c.user_id, p_customer, p_status, p_start, v_end, v_blocked,
              s.price_amount, s.currency, p_notes, p_from)
      returning * into b;
      insert into app.booking_resources (org_id, booking_id, resource_id, staff_user_id, blocked, active)
      select b.org_id, b.id, r, b.staff_user_id, b.blocked, true from pg_catalog.unnest(v_held) r;
      return b;
    exception when exclusion_violation then
      -- Taken by a concurrent booking since we looked: try the next staff member.
      null;
    end;
  end loop;
  perform app.raise_slot_taken(s, p_start, p_staff, p_resource, p_from);
  return null;
end
$$;
comment on function app.take_slot(app.services, timestamptz, uuid, uuid, uuid, text, text, uuid) is 'Books p_start for the first staff member (p_staff, or the least busy that day) and one free resource per needed type, each chosen under its calendar lock; 409 slot_taken with nearby slots when none can be had.';

-- ---------------------------------------------------------------------------------------
-- The customer of a booking, found or created once however many bookings ask at once
-- ---------------------------------------------------------------------------------------
create or replace function app.booking_customer(p jsonb) returns uuid
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
      insert into app.customers (org_id, name, email, phone, source)
      values (auth.org_id(), pg_catalog.btrim(p #>> '{customer,name}'), v_email, v_phone, 'booking')
      on conflict (org_id, email) where deleted_at is null and email is not null do nothing
      returning id into v_id;
      if v_id is null then
        select c.id into v_id from app.customers c
         where c.org_id = auth.org_id() and c.email = v_email and c.deleted_at is null;
      end if;
    end if;
  else
    perform app.raise_invalid('customer', 'required', 'Give customerId, or customer with a name and an email or phone.');
  end if;
  update app.customers set last_activity_at = pg_catalog.now() where org_id = auth.org_id() and id = v_id;
  return v_id;
end
$$;
comment on function app.booking_customer(jsonb) is 'The customer a booking is for: by customerId, else found by email (then phone) or created, once even when several bookings for the same new customer arrive together; a name alone that matches existing customers is refused with them as candidates.';

-- ---------------------------------------------------------------------------------------
-- Slots: a default range, a reason when there are none, and a resource filter that refuses
-- what it cannot match
-- ---------------------------------------------------------------------------------------

-- The range of a slots request: from now and a week long unless given; at most 31 days.
create or replace function app.slot_range(p jsonb) returns tstzrange
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

create or replace function api.get_available_slots(p jsonb) returns jsonb
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

create or replace function api.create_booking(p jsonb) returns jsonb
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
  return app.booking_json(b);
end
$$;

-- A start off the slot grid is refused with the nearest open slots, as a taken one is.
create or replace function app.require_on_grid(s app.services, p_start timestamptz, p_staff uuid) returns void
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

-- ---------------------------------------------------------------------------------------
-- Bookings name their service, staff member and customer; lists filter by several statuses
-- or by "active"; stats count reschedules apart from cancellations
-- ---------------------------------------------------------------------------------------
create or replace function app.booking_json(b app.bookings) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
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
    'createdAt', app.ts(b.created_at),
    'updatedAt', app.ts(b.updated_at))
$$;
comment on function app.booking_json(app.bookings) is 'The API representation of a booking, with its service, staff member and customer as {id, name}.';

create or replace function api.list_bookings(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
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
  v_result jsonb;
begin
  perform auth.require_scope('bookings:read');
  if v_after is not null then
    select b.starts_at into v_after_start from app.bookings b where b.org_id = v_org and b.id = v_after;
  end if;
  select app.page(array_agg(app.booking_json(b::app.bookings) order by b.starts_at, b.id),
                  array_agg(b.id order by b.starts_at, b.id), v_limit)
    into v_result
    from (select * from app.bookings b
           where b.org_id = v_org
             and (v_from is null or b.starts_at >= v_from) and (v_to is null or b.starts_at < v_to)
             and (v_statuses is null or b.status = any (v_statuses))
             and (not v_active or b.active)
             and (v_staff is null or b.staff_id = v_staff)
             and (v_customer is null or b.customer_id = v_customer)
             and (v_after_start is null or (b.starts_at, b.id) > (v_after_start, v_after))
           order by b.starts_at, b.id
           limit v_limit + 1) b;
  return v_result;
end
$$;
comment on function api.list_bookings(jsonb) is 'Lists bookings by start time, filtered by range, one or several statuses, active only, staff or customer (staff: only their own).';

create or replace function api.get_booking_stats(p jsonb) returns jsonb
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

-- A web page's booking answers the same whether or not the customer was known: it names no
-- customer, neither by id (a UUIDv7 dates an existing customer) nor by the name on file.
create or replace function app.public_booking(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
begin
  if p ? 'customerId' then
    perform app.raise_invalid('customerId', 'not_allowed_for_publishable_key',
      'A web page books with customer {name, email, phone}, not an existing customer id.');
  end if;
  if coalesce(p #>> '{customer,email}', p #>> '{customer,phone}') is null then
    perform app.raise_invalid('customer', 'contact_required', 'Give the customer''s email or phone.');
  end if;
  -- For a known email or phone these would name (and date) an existing customer.
  return api.create_booking(p) - 'customerId' - 'customer';
end
$$;
comment on function app.public_booking(jsonb) is 'create_booking for a web page (publishable key): by customer name and email or phone only; the answer leaves out customerId and customer, so it does not tell whether the customer existed.';


-- ---------------------------------------------------------------------------------------
-- What a confirmation previews: the effect, not only the row
-- ---------------------------------------------------------------------------------------
-- One definition of a late cancellation, for cancelling and for its preview.
create function app.late_cancel(b app.bookings) returns boolean
language sql stable set search_path = '' as $$
  select pg_catalog.now() > b.starts_at - pg_catalog.make_interval(hours => s.free_cancel_hours)
    from app.services s
   where s.org_id = b.org_id and s.id = b.service_id
$$;
comment on function app.late_cancel(app.bookings) is 'Whether cancelling the booking now is late under its service''s policy (inside freeCancelHours of the start).';
grant execute on function app.late_cancel(app.bookings) to favcrm_member;

create or replace function api.cancel_booking(p jsonb) returns jsonb
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
  return app.booking_json(b);
end
$$;

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

create or replace function api.add_time_off(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  st app.staff;
  t app.time_off;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  st := app.staff_for((p ->> 'staffId')::uuid);
  if (p ->> 'end')::timestamptz <= (p ->> 'start')::timestamptz then
    perform app.raise_invalid('end', 'end_before_start', 'end must be after start.');
  end if;
  insert into app.time_off (org_id, staff_id, period, reason)
  values (st.org_id, st.id, pg_catalog.tstzrange((p ->> 'start')::timestamptz, (p ->> 'end')::timestamptz), p ->> 'reason')
  returning * into t;
  return pg_catalog.jsonb_build_object('id', t.id, 'staffId', t.staff_id, 'start', app.ts(pg_catalog.lower(t.period)),
                                       'end', app.ts(pg_catalog.upper(t.period)), 'reason', t.reason,
    'affectedBookings', (select coalesce(pg_catalog.jsonb_agg(app.booking_json(b) order by b.starts_at), '[]'::jsonb)
                           from app.bookings b
                          where b.org_id = t.org_id and b.staff_id = t.staff_id and b.active
                            and pg_catalog.tstzrange(b.starts_at, b.ends_at) && t.period));
end
$$;
comment on function api.add_time_off(jsonb) is 'Blocks a staff member for a period (holiday, appointment, part of a day). Existing bookings stay; the answer lists those in the period (affectedBookings).';

create or replace function api.set_hours_exception(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  st app.staff;
  v_date date := (p ->> 'date')::date;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  st := app.staff_for((p ->> 'staffId')::uuid);
  perform app.require_valid_ranges(p -> 'hours');
  -- Unchanged: nothing written.
  if array(select pg_catalog.format('%s %s', e.start_time, e.end_time) from app.hours_exceptions e
            where e.org_id = st.org_id and e.staff_id = st.id and e.on_date = v_date order by 1)
     = array(select pg_catalog.format('%s %s', (h ->> 'start')::time, (h ->> 'end')::time)
               from pg_catalog.jsonb_array_elements(coalesce(p -> 'hours', '[]')) h
             union all
             select pg_catalog.format('%s %s', null::time, null::time)
              where pg_catalog.jsonb_array_length(coalesce(p -> 'hours', '[]')) = 0
             order by 1)
     and not exists (select from app.hours_exceptions e
                      where e.org_id = st.org_id and e.staff_id = st.id and e.on_date = v_date
                        and e.reason is distinct from p ->> 'reason') then
    return app.hours_exception_json(st.id, v_date)
           || pg_catalog.jsonb_build_object('affectedBookings', app.bookings_outside_hours(st.id, v_date));
  end if;
  delete from app.hours_exceptions where org_id = st.org_id and staff_id = st.id and on_date = v_date;
  insert into app.hours_exceptions (org_id, staff_id, on_date, start_time, end_time, reason)
  select st.org_id, st.id, v_date, (h ->> 'start')::time, (h ->> 'end')::time, p ->> 'reason'
    from pg_catalog.jsonb_array_elements(coalesce(p -> 'hours', '[]')) h
  union all
  select st.org_id, st.id, v_date, null, null, p ->> 'reason'
   where pg_catalog.jsonb_array_length(coalesce(p -> 'hours', '[]')) = 0;
  return app.hours_exception_json(st.id, v_date)
         || pg_catalog.jsonb_build_object('affectedBookings', app.bookings_outside_hours(st.id, v_date));
end
$$;
comment on function api.set_hours_exception(jsonb) is 'Sets one-off hours for a staff member on one date, replacing that date''s weekly hours; no ranges means not working that day. The answer lists the active bookings that day now outside the hours (affectedBookings).';

-- ---------------------------------------------------------------------------------------
-- The organisation says what time it is there, and whether it still runs on the defaults
-- ---------------------------------------------------------------------------------------
create or replace function app.organisation_json(o app.organisations) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', o.id,
    'name', o.name,
    'industry', o.industry,
    'country', o.country,
    'timezone', o.timezone,
    'defaultCurrency', o.default_currency,
    'timezoneIsDefault', o.country is null and o.timezone = 'UTC',
    'localTime', pg_catalog.to_char(l.local, 'YYYY-MM-DD"T"HH24:MI:SS')
                 || case when l.offset_s < 0 then '-' else '+' end
                 || pg_catalog.lpad((abs(l.offset_s) / 3600)::text, 2, '0') || ':'
                 || pg_catalog.lpad((abs(l.offset_s) % 3600 / 60)::text, 2, '0'),
    'today', pg_catalog.to_char(l.local, 'YYYY-MM-DD'),
    'weekday', pg_catalog.btrim(pg_catalog.to_char(l.local, 'Day')),
    'createdAt', app.ts(o.created_at),
    'updatedAt', app.ts(o.updated_at))
    from (select pg_catalog.now() at time zone o.timezone as local,
                 extract(epoch from (pg_catalog.now() at time zone o.timezone)
                                    - (pg_catalog.now() at time zone 'UTC'))::int as offset_s) l
$$;
comment on function app.organisation_json(app.organisations) is 'The API representation of an organisation, with the current time, date and weekday in its time zone, and whether it still runs on the UTC default (no country or time zone was ever given).';
