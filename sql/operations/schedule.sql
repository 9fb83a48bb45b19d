-- What can be booked and when: services, staff, resources, working hours, time off, one-off
-- hours and closures. Working hours are wall-clock times in the organisation's time zone,
-- expanded per date, so 09:00 stays 09:00 across DST changes.

-- ---------------------------------------------------------------------------------------
-- How services, staff, resources, hours and closures look to clients
-- ---------------------------------------------------------------------------------------
create function app.service_json(s app.services) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', s.id,
    'name', s.name,
    'description', s.description,
    'durationMinutes', s.duration_minutes,
    'price', app.money(s.price_amount, s.currency),
    'bufferBeforeMinutes', s.buffer_before_minutes,
    'bufferAfterMinutes', s.buffer_after_minutes,
    'minNoticeMinutes', s.min_notice_minutes,
    'maxAdvanceDays', s.max_advance_days,
    'slotIntervalMinutes', coalesce(s.slot_interval_minutes, s.duration_minutes),
    'requiresConfirmation', s.requires_confirmation,
    'cancellationPolicy', pg_catalog.jsonb_build_object(
      'freeCancelHours', s.free_cancel_hours,
      'lateCancelFee', app.money(s.late_cancel_fee_amount, s.currency),
      'noShowFee', app.money(s.no_show_fee_amount, s.currency)),
    'staffIds', pg_catalog.to_jsonb(array(select ss.staff_id from app.service_staff ss
                                           where ss.org_id = s.org_id and ss.service_id = s.id order by ss.staff_id)),
    'resourceTypes', pg_catalog.to_jsonb(s.resource_types),
    'capacity', s.capacity,
    'waitlistCutoffMinutes', s.waitlist_cutoff_minutes,
    'billing', pg_catalog.jsonb_build_object('taxRateId', s.tax_rate_id, 'invoiceOnComplete', s.invoice_on_complete,
                                             'invoiceFees', s.invoice_fees, 'payWithCredits', s.pay_with_credits),
    'status', case when s.archived_at is null then 'active' else 'archived' end,
    'createdAt', app.ts(s.created_at),
    'updatedAt', app.ts(s.updated_at),
    'archivedAt', app.ts(s.archived_at))
$$;
comment on function app.service_json(app.services) is 'The API representation of a service.';
grant execute on function app.service_json(app.services) to favcrm_member;

create function app.staff_json(st app.staff) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', st.id, 'name', st.name, 'email', st.email, 'userId', st.user_id,
    'status', case when st.archived_at is null then 'active' else 'archived' end,
    'createdAt', app.ts(st.created_at), 'updatedAt', app.ts(st.updated_at))
$$;
comment on function app.staff_json(app.staff) is 'The API representation of a staff member.';
grant execute on function app.staff_json(app.staff) to favcrm_member;

create function app.resource_json(r app.resources) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', r.id, 'name', r.name, 'type', r.type, 'capacity', r.capacity,
    'status', case when r.archived_at is null then 'active' else 'archived' end,
    'createdAt', app.ts(r.created_at), 'updatedAt', app.ts(r.updated_at))
$$;
comment on function app.resource_json(app.resources) is 'The API representation of a resource.';
grant execute on function app.resource_json(app.resources) to favcrm_member;

create function app.hours_exception_json(p_staff uuid, p_date date) returns jsonb
language sql stable as $$
  select pg_catalog.jsonb_build_object(
    'staffId', p_staff,
    'date', p_date,
    'hours', coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'start', pg_catalog.to_char(e.start_time, 'HH24:MI'), 'end', pg_catalog.to_char(e.end_time, 'HH24:MI'))
               order by e.start_time) filter (where e.start_time is not null), '[]'::jsonb),
    'reason', min(e.reason))
    from app.hours_exceptions e
   where e.org_id = auth.org_id() and e.staff_id = p_staff and e.on_date = p_date
$$;
comment on function app.hours_exception_json(uuid, date) is 'The API representation of a staff member''s one-off hours on a date.';
grant execute on function app.hours_exception_json(uuid, date) to favcrm_member;

create function app.working_hours_json(p_staff uuid) returns jsonb
language sql stable as $$
  select pg_catalog.jsonb_build_object(
    'staffId', p_staff,
    'timezone', (select o.timezone from app.organisations o where o.id = auth.org_id()),
    'hours', coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                         'weekday', wh.weekday,
                         'start', pg_catalog.to_char(wh.start_time, 'HH24:MI'),
                         'end', pg_catalog.to_char(wh.end_time, 'HH24:MI')) order by wh.weekday, wh.start_time)
                         from app.working_hours wh where wh.org_id = auth.org_id() and wh.staff_id = p_staff), '[]'::jsonb),
    'timeOff', coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                           'id', t.id, 'start', app.ts(pg_catalog.lower(t.period)), 'end', app.ts(pg_catalog.upper(t.period)),
                           'reason', t.reason) order by pg_catalog.lower(t.period))
                           from app.time_off t
                          where t.org_id = auth.org_id() and t.staff_id = p_staff
                            and pg_catalog.upper(t.period) > pg_catalog.now()), '[]'::jsonb),
    'exceptions', coalesce((select pg_catalog.jsonb_agg(x.j order by x.on_date)
                              from (select e.on_date, app.hours_exception_json(p_staff, e.on_date) as j
                                      from app.hours_exceptions e
                                     where e.org_id = auth.org_id() and e.staff_id = p_staff
                                       and e.on_date >= (pg_catalog.now() at time zone 'UTC')::date - 1
                                     group by e.on_date) x), '[]'::jsonb))
$$;
comment on function app.working_hours_json(uuid) is 'The API representation of a staff member''s weekly working hours, with the organisation''s time zone.';
grant execute on function app.working_hours_json(uuid) to favcrm_member;

create function app.closure_json(c app.closures) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object('id', c.id, 'startsOn', c.starts_on, 'endsOn', c.ends_on, 'reason', c.reason,
                                       'createdAt', app.ts(c.created_at))
$$;
comment on function app.closure_json(app.closures) is 'The API representation of a closure.';
grant execute on function app.closure_json(app.closures) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Services
-- ---------------------------------------------------------------------------------------
create function app.service_for(p_id uuid, p_lock boolean) returns app.services
language plpgsql set search_path = '' as $$
declare
  s app.services;
begin
  if p_lock then
    select * into s from app.services where org_id = auth.org_id() and id = p_id for update;
  else
    select * into s from app.services where org_id = auth.org_id() and id = p_id;
  end if;
  if not found then
    perform app.not_found('service');
  end if;
  return s;
end
$$;
comment on function app.service_for(uuid, boolean) is 'The service of this organisation with the id (locked FOR UPDATE when asked), or raises not_found.';
grant execute on function app.service_for(uuid, boolean) to favcrm_member;

create function app.normalize_resource_types(p jsonb) returns text[]
language sql immutable parallel safe as $$
  select coalesce(array(select distinct pg_catalog.lower(pg_catalog.btrim(t))
                          from pg_catalog.jsonb_array_elements_text(p) t order by 1), '{}')
$$;
comment on function app.normalize_resource_types(jsonb) is 'Turns a JSON array of resource types into a sorted, lower-case, duplicate-free text[].';
grant execute on function app.normalize_resource_types(jsonb) to favcrm_member;

-- Replaces the staff who can deliver a service.
create function app.set_service_staff(p_service uuid, p_staff jsonb) returns void
language plpgsql set search_path = '' as $$
begin
  if exists (select from pg_catalog.jsonb_array_elements_text(p_staff) v(id)
              where not exists (select from app.staff st
                                 where st.org_id = auth.org_id() and st.id = v.id::uuid and st.archived_at is null)) then
    raise exception using errcode = 'P0002', hint = 'not_found', column = 'staffIds',
      message = 'A staff id is not an active staff member of this organisation.';
  end if;
  -- Only the difference is written (and audited).
  delete from app.service_staff ss
   where ss.org_id = auth.org_id() and ss.service_id = p_service
     and ss.staff_id not in (select v.id::uuid from pg_catalog.jsonb_array_elements_text(p_staff) v(id));
  insert into app.service_staff (org_id, service_id, staff_id)
  select distinct auth.org_id(), p_service, v.id::uuid from pg_catalog.jsonb_array_elements_text(p_staff) v(id)
  on conflict do nothing;
end
$$;
comment on function app.set_service_staff(uuid, jsonb) is 'Replaces the staff who can deliver a service, writing (and auditing) only the difference.';
grant execute on function app.set_service_staff(uuid, jsonb) to favcrm_member;

-- Applies the fields present in p to a service row (PATCH semantics; absent keeps, null clears).
create function app.apply_service(s app.services, p jsonb) returns app.services
language plpgsql stable set search_path = '' as $$
begin
  if p ? 'name' then s.name := pg_catalog.btrim(p ->> 'name'); end if;
  if p ? 'description' then s.description := p ->> 'description'; end if;
  if p ? 'durationMinutes' then s.duration_minutes := (p ->> 'durationMinutes')::int; end if;
  if p ? 'price' then
    s.price_amount := (p #>> '{price,amount}')::bigint;
    s.currency := coalesce(pg_catalog.upper(p #>> '{price,currency}'), s.currency);
  end if;
  if p ? 'bufferBeforeMinutes' then s.buffer_before_minutes := coalesce((p ->> 'bufferBeforeMinutes')::int, 0); end if;
  if p ? 'bufferAfterMinutes' then s.buffer_after_minutes := coalesce((p ->> 'bufferAfterMinutes')::int, 0); end if;
  if p ? 'minNoticeMinutes' then s.min_notice_minutes := coalesce((p ->> 'minNoticeMinutes')::int, 0); end if;
  if p ? 'maxAdvanceDays' then s.max_advance_days := coalesce((p ->> 'maxAdvanceDays')::int, 90); end if;
  if p ? 'slotIntervalMinutes' then s.slot_interval_minutes := (p ->> 'slotIntervalMinutes')::int; end if;
  if p ? 'requiresConfirmation' then s.requires_confirmation := coalesce((p ->> 'requiresConfirmation')::boolean, false); end if;
  if p ? 'cancellationPolicy' then
    s.free_cancel_hours := coalesce((p #>> '{cancellationPolicy,freeCancelHours}')::int, s.free_cancel_hours);
    s.late_cancel_fee_amount := coalesce((p #>> '{cancellationPolicy,lateCancelFeeAmount}')::bigint, s.late_cancel_fee_amount);
    s.no_show_fee_amount := coalesce((p #>> '{cancellationPolicy,noShowFeeAmount}')::bigint, s.no_show_fee_amount);
  end if;
  if p ? 'resourceTypes' then s.resource_types := app.normalize_resource_types(coalesce(p -> 'resourceTypes', '[]')); end if;
  if p ? 'capacity' then s.capacity := coalesce((p ->> 'capacity')::int, 1); end if;
  if p ? 'waitlistCutoffMinutes' then s.waitlist_cutoff_minutes := coalesce((p ->> 'waitlistCutoffMinutes')::int, 60); end if;
  if p ? 'billing' then
    if p -> 'billing' ? 'taxRateId' then
      s.tax_rate_id := (p #>> '{billing,taxRateId}')::uuid;
      if s.tax_rate_id is not null then
        perform app.usable_tax_rate(s.tax_rate_id, 'billing.taxRateId');
      end if;
    end if;
    s.invoice_on_complete := coalesce((p #>> '{billing,invoiceOnComplete}')::boolean, s.invoice_on_complete, false);
    s.invoice_fees := coalesce((p #>> '{billing,invoiceFees}')::boolean, s.invoice_fees, false);
    s.pay_with_credits := coalesce((p #>> '{billing,payWithCredits}')::boolean, s.pay_with_credits, false);
  end if;
  return s;
end
$$;
comment on function app.apply_service(app.services, jsonb) is 'Applies the fields present in the input to a service row (PATCH semantics: absent keeps, null clears).';
grant execute on function app.apply_service(app.services, jsonb) to favcrm_member;

create function api.list_services(p jsonb) returns jsonb
language plpgsql stable set search_path = '' set plan_cache_mode = force_generic_plan as $$
declare
  v_org uuid := auth.org_id();
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
  v_all boolean := coalesce((p ->> 'includeArchived')::boolean, false);
  v_result jsonb;
begin
  perform auth.require_scope('bookings:read');
  select app.page(array_agg(app.service_json(s::app.services) order by s.id desc), array_agg(s.id order by s.id desc), v_limit)
    into v_result
    from (select * from app.services s
           where s.org_id = v_org and (v_all or s.archived_at is null) and s.id < coalesce(v_after, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
           order by s.id desc limit v_limit + 1) s;
  return v_result;
end
$$;
comment on function api.list_services(jsonb) is 'Lists services (active ones unless includeArchived), newest first.';
grant execute on function api.list_services(jsonb) to favcrm_member;

create function api.get_service(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
begin
  perform auth.require_scope('bookings:read');
  return app.service_json(app.service_for((p ->> 'serviceId')::uuid, false));
end
$$;
comment on function api.get_service(jsonb) is 'Returns one service.';
grant execute on function api.get_service(jsonb) to favcrm_member;

create function api.create_service(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  s app.services;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  s.org_id := auth.org_id();
  s.id := app.uuid_v7();
  select o.default_currency into s.currency from app.organisations o where o.id = s.org_id;
  s.price_amount := 0;
  s := app.apply_service(s, p);
  insert into app.services (org_id, id, name, description, duration_minutes, price_amount, currency,
                            buffer_before_minutes, buffer_after_minutes, min_notice_minutes, max_advance_days,
                            slot_interval_minutes, requires_confirmation, free_cancel_hours, late_cancel_fee_amount,
                            no_show_fee_amount, resource_types, capacity, waitlist_cutoff_minutes, tax_rate_id,
                            invoice_on_complete, invoice_fees, pay_with_credits)
  values (s.org_id, s.id, s.name, s.description, s.duration_minutes, s.price_amount, s.currency,
          coalesce(s.buffer_before_minutes, 0), coalesce(s.buffer_after_minutes, 0), coalesce(s.min_notice_minutes, 0),
          coalesce(s.max_advance_days, 90), s.slot_interval_minutes, coalesce(s.requires_confirmation, false),
          coalesce(s.free_cancel_hours, 24), coalesce(s.late_cancel_fee_amount, 0), coalesce(s.no_show_fee_amount, 0),
          coalesce(s.resource_types, '{}'), coalesce(s.capacity, 1), coalesce(s.waitlist_cutoff_minutes, 60), s.tax_rate_id,
          coalesce(s.invoice_on_complete, false), coalesce(s.invoice_fees, false), coalesce(s.pay_with_credits, false))
  returning * into s;
  perform app.set_service_staff(s.id, coalesce(p -> 'staffIds', '[]'));
  return app.service_json(s);
end
$$;
comment on function api.create_service(jsonb) is 'Creates a bookable service (managers and above). Price defaults to the organisation''s currency.';
grant execute on function api.create_service(jsonb) to favcrm_member;

create function api.update_service(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  o app.services;
  s app.services;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  o := app.service_for((p ->> 'serviceId')::uuid, true);
  s := app.apply_service(o, p);
  if s is distinct from o then
    update app.services set
      name = s.name, description = s.description, duration_minutes = s.duration_minutes, price_amount = s.price_amount,
      currency = s.currency, buffer_before_minutes = s.buffer_before_minutes, buffer_after_minutes = s.buffer_after_minutes,
      min_notice_minutes = s.min_notice_minutes, max_advance_days = s.max_advance_days,
      slot_interval_minutes = s.slot_interval_minutes, requires_confirmation = s.requires_confirmation,
      free_cancel_hours = s.free_cancel_hours, late_cancel_fee_amount = s.late_cancel_fee_amount,
      no_show_fee_amount = s.no_show_fee_amount, resource_types = s.resource_types, capacity = s.capacity,
      waitlist_cutoff_minutes = s.waitlist_cutoff_minutes, tax_rate_id = s.tax_rate_id,
      invoice_on_complete = s.invoice_on_complete, invoice_fees = s.invoice_fees, pay_with_credits = s.pay_with_credits,
      updated_at = pg_catalog.now()
    where org_id = o.org_id and id = o.id
    returning * into s;
  end if;
  if p ? 'staffIds' then
    perform app.set_service_staff(s.id, coalesce(p -> 'staffIds', '[]'));
  end if;
  return app.service_json(s);
end
$$;
comment on function api.update_service(jsonb) is 'Changes a service (managers and above); existing bookings keep their time and price.';
grant execute on function api.update_service(jsonb) to favcrm_member;

create function api.archive_service(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  s app.services;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  s := app.service_for((p ->> 'serviceId')::uuid, true);
  update app.services set archived_at = coalesce(archived_at, pg_catalog.now()), updated_at = pg_catalog.now()
   where org_id = s.org_id and id = s.id and archived_at is null;
  s := app.service_for(s.id, false);
  return app.service_json(s);
end
$$;
comment on function api.archive_service(jsonb) is 'Archives a service: no new bookings; existing ones stay. Archiving twice changes nothing.';
grant execute on function api.archive_service(jsonb) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Staff and resources
-- ---------------------------------------------------------------------------------------
create function app.staff_for(p_id uuid) returns app.staff
language plpgsql stable set search_path = '' as $$
declare
  st app.staff;
begin
  select * into st from app.staff where org_id = auth.org_id() and id = p_id;
  if not found then
    perform app.not_found('staff member');
  end if;
  return st;
end
$$;
comment on function app.staff_for(uuid) is 'The staff member of this organisation with the id, or raises not_found.';
grant execute on function app.staff_for(uuid) to favcrm_member;

-- A staff profile links only to an active member of this organisation.
create function app.require_member(p_user uuid) returns void
language plpgsql stable set search_path = '' as $$
begin
  if p_user is not null and not exists (select from app.memberships m
                                         where m.org_id = auth.org_id() and m.user_id = p_user and m.removed_at is null) then
    raise exception using errcode = 'P0002', hint = 'not_found', column = 'userId',
      message = 'No team member with that user id exists in this organisation.';
  end if;
end
$$;
comment on function app.require_member(uuid) is 'Raises not_found unless the user is an active member of this organisation (a staff profile links only to one).';
grant execute on function app.require_member(uuid) to favcrm_member;

create function api.list_staff(p jsonb) returns jsonb
language plpgsql stable set search_path = '' set plan_cache_mode = force_generic_plan as $$
declare
  v_org uuid := auth.org_id();
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
  v_all boolean := coalesce((p ->> 'includeArchived')::boolean, false);
  v_result jsonb;
begin
  perform auth.require_scope('bookings:read');
  select app.page(array_agg(app.staff_json(st::app.staff) order by st.id desc), array_agg(st.id order by st.id desc), v_limit)
    into v_result
    from (select * from app.staff st
           where st.org_id = v_org and (v_all or st.archived_at is null) and st.id < coalesce(v_after, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
           order by st.id desc limit v_limit + 1) st;
  return v_result;
end
$$;
comment on function api.list_staff(jsonb) is 'Lists staff members, newest first.';
grant execute on function api.list_staff(jsonb) to favcrm_member;

create function api.create_staff(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  st app.staff;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  perform app.require_member((p ->> 'userId')::uuid);
  insert into app.staff (org_id, name, email, user_id)
  values (auth.org_id(), pg_catalog.btrim(p ->> 'name'), app.normalize_email(p ->> 'email'), (p ->> 'userId')::uuid)
  returning * into st;
  return app.staff_json(st);
end
$$;
comment on function api.create_staff(jsonb) is 'Adds a staff member, optionally linked to a team member (userId), who then sees their own bookings.';
grant execute on function api.create_staff(jsonb) to favcrm_member;

create function api.update_staff(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  o app.staff;
  st app.staff;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  o := app.staff_for((p ->> 'staffId')::uuid);
  st := o;
  if p ? 'name' then st.name := pg_catalog.btrim(p ->> 'name'); end if;
  if p ? 'email' then st.email := app.normalize_email(p ->> 'email'); end if;
  if p ? 'userId' then
    perform app.require_member((p ->> 'userId')::uuid);
    st.user_id := (p ->> 'userId')::uuid;
  end if;
  if p ? 'archived' then
    st.archived_at := case when (p ->> 'archived')::boolean then coalesce(o.archived_at, pg_catalog.now()) end;
  end if;
  if st is not distinct from o then
    return app.staff_json(o);
  end if;
  update app.staff set name = st.name, email = st.email, user_id = st.user_id, archived_at = st.archived_at,
                       updated_at = pg_catalog.now()
   where org_id = o.org_id and id = o.id
   returning * into st;
  if st.user_id is distinct from o.user_id then
    -- Their bookings follow the link, so that the new team member sees them.
    update app.bookings set staff_user_id = st.user_id where org_id = st.org_id and staff_id = st.id;
    update app.booking_resources br set staff_user_id = st.user_id
      from app.bookings b
     where b.org_id = st.org_id and b.staff_id = st.id and br.org_id = b.org_id and br.booking_id = b.id;
  end if;
  return app.staff_json(st);
end
$$;
comment on function api.update_staff(jsonb) is 'Changes a staff member: name, email, linked team member, or archived (no new slots).';
grant execute on function api.update_staff(jsonb) to favcrm_member;

create function api.list_resources(p jsonb) returns jsonb
language plpgsql stable set search_path = '' set plan_cache_mode = force_generic_plan as $$
declare
  v_org uuid := auth.org_id();
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
  v_type text := p ->> 'type';
  v_result jsonb;
begin
  perform auth.require_scope('bookings:read');
  select app.page(array_agg(app.resource_json(r::app.resources) order by r.id desc), array_agg(r.id order by r.id desc), v_limit)
    into v_result
    from (select * from app.resources r
           where r.org_id = v_org and r.archived_at is null and (v_type is null or r.type = v_type)
             and r.id < coalesce(v_after, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
           order by r.id desc limit v_limit + 1) r;
  return v_result;
end
$$;
comment on function api.list_resources(jsonb) is 'Lists active rooms and equipment, optionally of one type.';
grant execute on function api.list_resources(jsonb) to favcrm_member;

create function api.create_resource(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  r app.resources;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  insert into app.resources (org_id, name, type, capacity)
  values (auth.org_id(), pg_catalog.btrim(p ->> 'name'), pg_catalog.lower(pg_catalog.btrim(p ->> 'type')),
          coalesce((p ->> 'capacity')::int, 1))
  returning * into r;
  return app.resource_json(r);
end
$$;
comment on function api.create_resource(jsonb) is 'Adds a room or piece of equipment of a type (room, chair, …).';
grant execute on function api.create_resource(jsonb) to favcrm_member;

create function api.update_resource(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  o app.resources;
  r app.resources;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  select * into o from app.resources where org_id = auth.org_id() and id = (p ->> 'resourceId')::uuid for update;
  if not found then
    perform app.not_found('resource');
  end if;
  r := o;
  if p ? 'name' then r.name := pg_catalog.btrim(p ->> 'name'); end if;
  if p ? 'type' then r.type := pg_catalog.lower(pg_catalog.btrim(p ->> 'type')); end if;
  if p ? 'capacity' then r.capacity := coalesce((p ->> 'capacity')::int, 1); end if;
  if p ? 'archived' then
    r.archived_at := case when (p ->> 'archived')::boolean then coalesce(o.archived_at, pg_catalog.now()) end;
  end if;
  if r is not distinct from o then
    return app.resource_json(o);
  end if;
  update app.resources set name = r.name, type = r.type, capacity = r.capacity, archived_at = r.archived_at,
                           updated_at = pg_catalog.now()
   where org_id = o.org_id and id = o.id
   returning * into r;
  return app.resource_json(r);
end
$$;
comment on function api.update_resource(jsonb) is 'Changes a resource: name, type, capacity, or archived.';
grant execute on function api.update_resource(jsonb) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Working hours
-- ---------------------------------------------------------------------------------------
-- A staff member's working ranges on one date: that date's one-off hours when there are any,
-- else the weekly hours of its weekday.
create function app.hours_on(p_org uuid, p_staff uuid, p_day date) returns table (start_time time, end_time time)
language sql stable as $$
  select e.start_time, e.end_time
    from app.hours_exceptions e
   where e.org_id = p_org and e.staff_id = p_staff and e.on_date = p_day and e.start_time is not null
  union all
  select wh.start_time, wh.end_time
    from app.working_hours wh
   where wh.org_id = p_org and wh.staff_id = p_staff and wh.weekday = extract(isodow from p_day)
     and not exists (select from app.hours_exceptions e
                      where e.org_id = p_org and e.staff_id = p_staff and e.on_date = p_day)
$$;
comment on function app.hours_on(uuid, uuid, date) is 'Working ranges of a staff member on a date: one-off hours replace the weekly ones.';
grant execute on function app.hours_on(uuid, uuid, date) to favcrm_member;

-- Working ranges as given ([{weekday?, start, end}]): each ends after it starts, and no two of
-- the same day (same weekday, or all of them when there is none) overlap.
create function app.require_valid_ranges(p_hours jsonb) returns void
language plpgsql stable set search_path = '' as $$
declare
  v_bad int;
begin
  select h.ordinality - 1 into v_bad
    from pg_catalog.jsonb_array_elements(coalesce(p_hours, '[]')) with ordinality h(v, ordinality)
   where (h.v ->> 'end')::time <= (h.v ->> 'start')::time and (h.v ->> 'end') <> '24:00'
   limit 1;
  if found then
    perform app.raise_invalid(pg_catalog.format('hours[%s].end', v_bad), 'end_before_start', 'Each range must end after it starts.');
  end if;
  select b.ordinality - 1 into v_bad
    from pg_catalog.jsonb_array_elements(coalesce(p_hours, '[]')) with ordinality a(v, ordinality)
    join pg_catalog.jsonb_array_elements(coalesce(p_hours, '[]')) with ordinality b(v, ordinality)
      on a.ordinality < b.ordinality and (a.v ->> 'weekday') is not distinct from (b.v ->> 'weekday')
     and (a.v ->> 'start')::time < (b.v ->> 'end')::time and (b.v ->> 'start')::time < (a.v ->> 'end')::time
   limit 1;
  if found then
    perform app.raise_invalid(pg_catalog.format('hours[%s]', v_bad), 'overlapping_hours', 'Two ranges of the same day overlap.');
  end if;
end
$$;
comment on function app.require_valid_ranges(jsonb) is 'Raises 422 unless each working range ends after it starts and no two ranges of the same day overlap.';
grant execute on function app.require_valid_ranges(jsonb) to favcrm_member;

create function api.get_working_hours(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  st app.staff;
begin
  perform auth.require_scope('bookings:read');
  st := app.staff_for((p ->> 'staffId')::uuid);
  return app.working_hours_json(st.id);
end
$$;
comment on function api.get_working_hours(jsonb) is 'A staff member''s weekly hours (wall clock, organisation time zone) and upcoming time off.';
grant execute on function api.get_working_hours(jsonb) to favcrm_member;

create function api.set_working_hours(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  st app.staff;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  st := app.staff_for((p ->> 'staffId')::uuid);
  perform app.require_valid_ranges(p -> 'hours');
  if array(select pg_catalog.format('%s %s %s', wh.weekday, wh.start_time, wh.end_time)
              from app.working_hours wh where wh.org_id = st.org_id and wh.staff_id = st.id order by 1)
     = array(select pg_catalog.format('%s %s %s', (h ->> 'weekday')::int, (h ->> 'start')::time, (h ->> 'end')::time)
               from pg_catalog.jsonb_array_elements(coalesce(p -> 'hours', '[]')) h order by 1) then
    return app.working_hours_json(st.id);
  end if;
  delete from app.working_hours where org_id = st.org_id and staff_id = st.id;
  insert into app.working_hours (org_id, staff_id, weekday, start_time, end_time)
  select st.org_id, st.id, (h ->> 'weekday')::int, (h ->> 'start')::time, (h ->> 'end')::time
    from pg_catalog.jsonb_array_elements(coalesce(p -> 'hours', '[]')) h;
  return app.working_hours_json(st.id);
end
$$;
comment on function api.set_working_hours(jsonb) is 'Replaces a staff member''s weekly hours: ranges per ISO weekday (1 = Monday) in wall-clock time; several ranges a day make breaks.';
grant execute on function api.set_working_hours(jsonb) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Time off, one-off hours and closures
-- ---------------------------------------------------------------------------------------
create function api.add_time_off(p jsonb) returns jsonb
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
grant execute on function api.add_time_off(jsonb) to favcrm_member;

create function api.remove_time_off(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  t app.time_off;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  select * into t from app.time_off where org_id = auth.org_id() and id = (p ->> 'timeOffId')::uuid;
  if not found then
    perform app.not_found('time off');
  end if;
  perform auth.require_confirmation('remove_time_off');
  delete from app.time_off where org_id = t.org_id and id = t.id;
  return pg_catalog.jsonb_build_object('id', t.id, 'staffId', t.staff_id, 'start', app.ts(pg_catalog.lower(t.period)),
                                       'end', app.ts(pg_catalog.upper(t.period)), 'reason', t.reason);
end
$$;
comment on function api.remove_time_off(jsonb) is 'Removes a period of time off; its slots open again.';
grant execute on function api.remove_time_off(jsonb) to favcrm_member;

create function api.set_hours_exception(p jsonb) returns jsonb
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
grant execute on function api.set_hours_exception(jsonb) to favcrm_member;

create function api.remove_hours_exception(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  st app.staff;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  st := app.staff_for((p ->> 'staffId')::uuid);
  delete from app.hours_exceptions where org_id = st.org_id and staff_id = st.id and on_date = (p ->> 'date')::date;
  return app.hours_exception_json(st.id, (p ->> 'date')::date);
end
$$;
comment on function api.remove_hours_exception(jsonb) is 'Removes the one-off hours of a date: the weekly hours apply again. Removing twice changes nothing.';
grant execute on function api.remove_hours_exception(jsonb) to favcrm_member;

create function api.add_closure(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  c app.closures;
begin
  perform auth.require_scope('bookings:write');
  perform app.require_manager();
  if (p ->> 'endsOn')::date < (p ->> 'startsOn')::date then
    perform app.raise_invalid('endsOn', 'end_before_start', 'endsOn must not be before startsOn.');
  end if;
  insert into app.closures (org_id, starts_on, ends_on, reason)
  values (auth.org_id(), (p ->> 'startsOn')::date, (p ->> 'endsOn')::date, p ->> 'reason')
  returning * into c;
  return app.closure_json(c);
end
$$;
comment on function api.add_closure(jsonb) is 'Closes the business on whole days (inclusive, in its time zone): no slots those days.';
grant execute on function api.add_closure(jsonb) to favcrm_member;

create function api.list_closures(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_from date := coalesce((p ->> 'from')::date, (pg_catalog.now() at time zone 'UTC')::date - 1);
begin
  perform auth.require_scope('bookings:read');
  return pg_catalog.jsonb_build_object('items', coalesce((
    select pg_catalog.jsonb_agg(app.closure_json(c) order by c.starts_on)
      from app.closures c where c.org_id = auth.org_id() and c.ends_on >= v_from), '[]'::jsonb));
end
$$;
comment on function api.list_closures(jsonb) is 'Lists closures that end on or after from (default: yesterday).';
grant execute on function api.list_closures(jsonb) to favcrm_member;
