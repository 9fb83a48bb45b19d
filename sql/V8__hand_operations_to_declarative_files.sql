-- Operations move out of the migrations. From here on, every function of the api schema and
-- every app/auth helper that only operations use is defined in one file of sql/operations/
-- (one per area) and created afresh after the migrations on every start, in one transaction
-- with the policies; see sql/README.md. Migrations keep what holds data: tables, types,
-- constraints, indexes, triggers, and the functions those and the policies call.
--
-- V1 to V7 were rewritten to hold only that. Databases that ran them before carry the functions
-- they used to create; this hands those over by dropping them (the files create them again in
-- the same start). On a new database every statement here finds nothing to drop.

drop schema if exists api cascade;

drop function if exists app.api_key_json(app.api_keys);
drop function if exists app.apply_service(app.services,jsonb);
drop function if exists app.audit_event_json(audit.event);
drop function if exists app.bookable_staff(uuid);
drop function if exists app.booking_customer(jsonb);
drop function if exists app.booking_for_update(jsonb);
drop function if exists app.booking_json(app.bookings);
drop function if exists app.bookings_outside_hours(uuid,date);
drop function if exists app.check_customer_email_free(text,uuid);
drop function if exists app.class_session_json(app.class_sessions);
drop function if exists app.class_slots_json(app.services,timestamp with time zone,timestamp with time zone,uuid);
drop function if exists app.closure_json(app.closures);
drop function if exists app.country(text);
drop function if exists app.customer_for_update(uuid);
drop function if exists app.customer_json(app.customers);
drop function if exists app.customer_note_json(app.customer_notes);
drop function if exists app.decode_cursor(text);
drop function if exists app.encode_cursor(uuid);
drop function if exists app.escape_like(text);
drop function if exists app.hours_exception_json(uuid,date);
drop function if exists app.hours_on(uuid,uuid,date);
drop function if exists app.is_timezone(text);
drop function if exists app.late_cancel(app.bookings);
drop function if exists app.lock_calendar(uuid,uuid,tstzrange);
drop function if exists app.lock_team(uuid);
drop function if exists app.member_for_change(jsonb);
drop function if exists app.merge_consent(jsonb,jsonb);
drop function if exists app.money(bigint,text);
drop function if exists app.no_slots_reason(app.services,tstzrange,uuid);
drop function if exists app.normalize_email(text);
drop function if exists app.normalize_phone(text);
drop function if exists app.normalize_resource_types(jsonb);
drop function if exists app.normalize_tags(jsonb);
drop function if exists app.not_found(text);
drop function if exists app.organisation_json(app.organisations);
drop function if exists app.page(jsonb[],uuid[],integer);
drop function if exists app.page_limit(jsonb);
drop function if exists app.public_booking(jsonb);
drop function if exists app.publishable_key_json(app.publishable_keys);
drop function if exists app.raise_invalid(text,text,text);
drop function if exists app.raise_slot_taken(app.services,timestamp with time zone,uuid,uuid,uuid);
drop function if exists app.require_another_owner(app.memberships);
drop function if exists app.require_manager();
drop function if exists app.require_member(uuid);
drop function if exists app.require_on_grid(app.services,timestamp with time zone,uuid);
drop function if exists app.require_status(app.bookings,text[],text);
drop function if exists app.require_usable_resource(app.services,uuid);
drop function if exists app.require_valid_ranges(jsonb);
drop function if exists app.resource_json(app.resources);
drop function if exists app.service_for(uuid,boolean);
drop function if exists app.service_json(app.services);
drop function if exists app.set_booking_status(app.bookings,text);
drop function if exists app.set_service_staff(uuid,jsonb);
drop function if exists app.slot_range(jsonb);
drop function if exists app.slots_json(uuid,timestamp with time zone,timestamp with time zone,uuid,uuid,uuid,integer);
drop function if exists app.staff_for(uuid);
drop function if exists app.staff_json(app.staff);
drop function if exists app.take_seat(app.services,timestamp with time zone,uuid,uuid,text,text,uuid);
drop function if exists app.take_slot(app.services,timestamp with time zone,uuid,uuid,uuid,text,text,uuid);
drop function if exists app.team_invite_json(app.team_invites);
drop function if exists app.team_member_json(app.memberships);
drop function if exists app.ts(timestamp with time zone);
drop function if exists app.waitlist_entry_json(app.waitlist_entries);
drop function if exists app.working_hours_json(uuid);
drop function if exists auth.all_scopes();
drop function if exists auth.all_toolsets();
drop function if exists auth.authenticate(bytea,jsonb);
drop function if exists auth.begin_invite_attempt(jsonb);
drop function if exists auth.begin_signup_attempt(jsonb);
drop function if exists auth.bootstrap_organisation(jsonb);
drop function if exists auth.check_signup_alive(app.signup_requests);
drop function if exists auth.claim_idempotency_key(text,text,bytea);
drop function if exists auth.complete_invite(jsonb);
drop function if exists auth.complete_signup(jsonb);
drop function if exists auth.create_workspace(jsonb);
drop function if exists auth.has_scope(text);
drop function if exists auth.invite_by_token(bytea);
drop function if exists auth.issue_confirmation(text);
drop function if exists auth.mask_email(text);
drop function if exists auth.my_organisations();
drop function if exists auth.new_key_secret(text);
drop function if exists auth.new_token(text);
drop function if exists auth.open_slots(uuid,timestamp with time zone,timestamp with time zone,uuid,uuid,uuid);
drop function if exists auth.publishable_call(bytea,text,text,jsonb,jsonb);
drop function if exists auth.purge_expired();
drop function if exists auth.raise_gone(text,text);
drop function if exists auth.raise_rate_limited(text,interval);
drop function if exists auth.require_confirmation(text);
drop function if exists auth.require_outranks(text,text);
drop function if exists auth.require_scope(text);
drop function if exists auth.resource_free(uuid,tstzrange,uuid);
drop function if exists auth.role_rank(text);
drop function if exists auth.role_scopes(text);
drop function if exists auth.schema_version();
drop function if exists auth.sha256(text);
drop function if exists auth.start_invite_acceptance(jsonb);
drop function if exists auth.start_signup(jsonb);
drop function if exists auth.store_idempotent_response(text,integer,jsonb);
drop function if exists auth.touch_api_key(uuid);
