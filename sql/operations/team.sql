-- The team: invitations, members and their roles, and the organisations a person belongs to.

create function app.team_invite_json(i app.team_invites) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', i.id,
    'email', i.email,
    'name', i.name,
    'role', i.role,
    'status', case when i.revoked_at is not null then 'revoked'
                   when i.accepted_at is not null then 'accepted'
                   when i.expires_at <= pg_catalog.now() then 'expired'
                   else 'pending' end,
    'invitedByUserId', i.invited_by,
    'acceptedUserId', i.accepted_user_id,
    'createdAt', app.ts(i.created_at),
    'expiresAt', app.ts(i.expires_at),
    'acceptedAt', app.ts(i.accepted_at),
    'revokedAt', app.ts(i.revoked_at))
$$;
comment on function app.team_invite_json(app.team_invites) is 'The API representation of an invitation: never its token or code.';
grant execute on function app.team_invite_json(app.team_invites) to favcrm_member;

create function app.team_member_json(m app.memberships) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', m.id,
    'userId', m.user_id,
    'name', m.name,
    'email', m.email,
    'role', m.role,
    'status', case when m.removed_at is null then 'active' else 'removed' end,
    'createdAt', app.ts(m.created_at),
    'updatedAt', app.ts(m.updated_at),
    'removedAt', app.ts(m.removed_at))
$$;
comment on function app.team_member_json(app.memberships) is 'The API representation of a team member.';
grant execute on function app.team_member_json(app.memberships) to favcrm_member;

create function api.create_team_member_invite(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_org uuid := auth.org_id();
  v_email text := pg_catalog.lower(pg_catalog.btrim(p ->> 'email'));
  v_role text := p ->> 'role';
  v_hours int := coalesce((p ->> 'expiresInHours')::int, 72);
  v_token text := auth.new_token('fav_inv_');
  v_inviter text;
  v_org_name text;
  i app.team_invites;
begin
  perform auth.require_scope('team:write');
  if v_role not in ('admin', 'manager', 'staff') then
    perform app.raise_invalid('role', 'invalid_role', 'role must be admin, manager or staff.');
  end if;
  if auth.role_rank(v_role) >= auth.role_rank(auth.role()) then
    raise exception using errcode = '42501', hint = 'role_exceeds_caller', column = 'role',
      message = pg_catalog.format('A %s can only invite roles below their own.', auth.role());
  end if;
  if v_hours not between 1 and 336 then
    perform app.raise_invalid('expiresInHours', 'out_of_range', 'expiresInHours must be between 1 and 336.');
  end if;
  if exists (select from app.memberships where org_id = v_org and email = v_email and removed_at is null) then
    raise exception using errcode = '23505', hint = 'already_member', column = 'email',
      message = pg_catalog.format('%s is already a member of this organisation.', v_email);
  end if;
  -- A new invitation replaces a pending one for the same email.
  update app.team_invites set revoked_at = pg_catalog.now()
   where org_id = v_org and email = v_email and revoked_at is null and accepted_at is null;
  insert into app.team_invites (org_id, email, name, role, token_digest, invited_by, expires_at)
  values (v_org, v_email, pg_catalog.btrim(p ->> 'name'), v_role, auth.sha256(v_token), auth.user_id(),
          pg_catalog.now() + pg_catalog.make_interval(hours => v_hours))
  returning * into i;
  select m.name into v_inviter from app.memberships m where m.org_id = v_org and m.user_id = auth.user_id();
  select o.name into v_org_name from app.organisations o where o.id = v_org;
  return app.team_invite_json(i) || pg_catalog.jsonb_build_object(
    'token', v_token,
    'emailDeliveryId', app.queue_email(i.email, 'team_invite', pg_catalog.jsonb_build_object(
      'name', i.name, 'role', i.role, 'token', v_token, 'organisationName', v_org_name, 'inviterName', v_inviter,
      'expiresAt', app.ts(i.expires_at))));
end
$$;
comment on function api.create_team_member_invite(jsonb) is 'Invites a person by email with a role below the caller''s own; returns the one-time token (shown once) and writes the invitation email to the outbox.';
grant execute on function api.create_team_member_invite(jsonb) to favcrm_member;

create function api.list_team_invites(p jsonb) returns jsonb
language plpgsql stable set search_path = '' set plan_cache_mode = force_generic_plan as $$
declare
  v_org uuid := auth.org_id();
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
  v_status text := p ->> 'status';
  v_result jsonb;
begin
  perform auth.require_scope('team:read');
  if auth.role_rank(auth.role()) < auth.role_rank('manager') then
    raise exception using errcode = '42501', hint = 'forbidden', message = 'Only managers and above see invitations.';
  end if;
  select app.page(array_agg(app.team_invite_json(i::app.team_invites) order by i.id desc), array_agg(i.id order by i.id desc), v_limit)
    into v_result
    from (select * from app.team_invites i
           where i.org_id = v_org and i.id < coalesce(v_after, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
             and (v_status is null or v_status = case when i.revoked_at is not null then 'revoked'
                                                      when i.accepted_at is not null then 'accepted'
                                                      when i.expires_at <= pg_catalog.now() then 'expired'
                                                      else 'pending' end)
           order by i.id desc
           limit v_limit + 1) i;
  return v_result;
end
$$;
comment on function api.list_team_invites(jsonb) is 'Lists invitations newest first, optionally by status (managers and above).';
grant execute on function api.list_team_invites(jsonb) to favcrm_member;

create function api.revoke_team_invite(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  i app.team_invites;
begin
  perform auth.require_scope('team:write');
  select * into i from app.team_invites where org_id = auth.org_id() and id = (p ->> 'inviteId')::uuid for update;
  if not found then
    perform app.not_found('invitation');
  end if;
  perform auth.require_outranks(i.role, 'inviteId');
  perform auth.require_confirmation('revoke_team_invite');
  if i.accepted_at is not null then
    raise exception using errcode = '55000', hint = 'invite_accepted',
      message = 'The invitation was already accepted; remove the member with remove_team_member instead.';
  end if;
  update app.team_invites set revoked_at = coalesce(revoked_at, pg_catalog.now())
   where org_id = i.org_id and id = i.id
   returning * into i;
  return app.team_invite_json(i);
end
$$;
comment on function api.revoke_team_invite(jsonb) is 'Revokes a pending invitation: its token and code stop working. Revoking twice changes nothing.';
grant execute on function api.revoke_team_invite(jsonb) to favcrm_member;

create function api.list_team_members(p jsonb) returns jsonb
language plpgsql stable set search_path = '' set plan_cache_mode = force_generic_plan as $$
declare
  v_org uuid := auth.org_id();
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
  v_all boolean := coalesce((p ->> 'includeRemoved')::boolean, false);
  v_result jsonb;
begin
  perform auth.require_scope('team:read');
  select app.page(array_agg(app.team_member_json(m::app.memberships) order by m.id desc), array_agg(m.id order by m.id desc), v_limit)
    into v_result
    from (select * from app.memberships m
           where m.org_id = v_org and (v_all or m.removed_at is null) and m.id < coalesce(v_after, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
           order by m.id desc
           limit v_limit + 1) m;
  return v_result;
end
$$;
comment on function api.list_team_members(jsonb) is 'Lists the organisation''s members with their roles, newest first.';
grant execute on function api.list_team_members(jsonb) to favcrm_member;

-- Serialises changes to who the owners are, so two concurrent demotions cannot leave none.
create function app.lock_team(p_org uuid) returns void
language sql volatile as $$
  select pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('favcrm.team.' || p_org::text, 0))
$$;
comment on function app.lock_team(uuid) is 'Transaction lock on the organisation''s team (role changes and removals).';
grant execute on function app.lock_team(uuid) to favcrm_member;

create function app.member_for_change(p jsonb) returns app.memberships
language plpgsql set search_path = '' as $$
declare
  m app.memberships;
begin
  if auth.role() not in ('owner', 'admin') then
    raise exception using errcode = '42501', hint = 'forbidden', message = 'Only owners and admins can change or remove members.';
  end if;
  perform app.lock_team(auth.org_id());
  select * into m from app.memberships
   where org_id = auth.org_id() and id = (p ->> 'memberId')::uuid and removed_at is null
   for update;
  if not found then
    perform app.not_found('team member');
  end if;
  perform auth.require_outranks(m.role, 'memberId');
  return m;
end
$$;
comment on function app.member_for_change(jsonb) is 'Locks the team and the member named by memberId for a change by an owner or an admin who outranks them.';
grant execute on function app.member_for_change(jsonb) to favcrm_member;

create function app.require_another_owner(m app.memberships) returns void
language plpgsql stable set search_path = '' as $$
begin
  if m.role = 'owner' and not exists (select from app.memberships o
                                       where o.org_id = m.org_id and o.role = 'owner' and o.removed_at is null
                                         and o.id <> m.id) then
    raise exception using errcode = '55000', hint = 'last_owner',
      message = 'This is the organisation''s last owner: make someone else an owner first.';
  end if;
end
$$;
comment on function app.require_another_owner(app.memberships) is 'Raises 409 last_owner when the membership is the organisation''s last active owner.';
grant execute on function app.require_another_owner(app.memberships) to favcrm_member;

create function api.update_team_member_role(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_role text := p ->> 'role';
  m app.memberships;
begin
  perform auth.require_scope('team:write');
  m := app.member_for_change(p);
  if v_role not in ('owner', 'admin', 'manager', 'staff') then
    perform app.raise_invalid('role', 'invalid_role', 'role must be owner, admin, manager or staff.');
  end if;
  perform auth.require_outranks(v_role, 'role');
  perform auth.require_confirmation('update_team_member_role');
  if m.role = v_role then
    return app.team_member_json(m);
  end if;
  perform app.require_another_owner(m);
  update app.memberships set role = v_role, updated_at = pg_catalog.now()
   where org_id = m.org_id and id = m.id
   returning * into m;
  return app.team_member_json(m);
end
$$;
comment on function api.update_team_member_role(jsonb) is 'Changes a member''s role (owners and admins; admins only below their own). Their keys follow the new role on the next request. The last owner cannot be demoted.';
grant execute on function api.update_team_member_role(jsonb) to favcrm_member;

create function api.remove_team_member(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  m app.memberships;
  v_revoked int;
begin
  perform auth.require_scope('team:write');
  m := app.member_for_change(p);
  perform auth.require_confirmation('remove_team_member');
  perform app.require_another_owner(m);
  update app.memberships set removed_at = pg_catalog.now(), updated_at = pg_catalog.now()
   where org_id = m.org_id and id = m.id
   returning * into m;
  update app.api_keys set revoked_at = pg_catalog.now()
   where org_id = m.org_id and user_id = m.user_id and revoked_at is null;
  get diagnostics v_revoked = row_count;
  return app.team_member_json(m) || pg_catalog.jsonb_build_object('revokedKeys', v_revoked);
end
$$;
comment on function api.remove_team_member(jsonb) is 'Removes a member and revokes all their keys in this organisation at once. The last owner cannot be removed.';
grant execute on function api.remove_team_member(jsonb) to favcrm_member;

create function auth.my_organisations() returns jsonb
language sql stable security definer set search_path = '' as $$
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'organisationId', o.id, 'name', o.name, 'industry', o.industry, 'timezone', o.timezone,
           'role', m.role, 'memberId', m.id, 'current', o.id = auth.org_id()) order by o.name, o.id), '[]'::jsonb)
    from app.memberships m
    join app.organisations o on o.id = m.org_id
   where m.user_id = auth.user_id() and m.removed_at is null
$$;
comment on function auth.my_organisations() is 'Every organisation the calling key''s user belongs to, with their role in each.';
revoke all on function auth.my_organisations() from public;
grant execute on function auth.my_organisations() to favcrm_member;

create function api.list_my_organisations(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
begin
  perform auth.require_scope('organisation:read');
  return pg_catalog.jsonb_build_object('items', auth.my_organisations());
end
$$;
comment on function api.list_my_organisations(jsonb) is 'Lists every organisation of the key''s user (a key works in its own organisation only).';
grant execute on function api.list_my_organisations(jsonb) to favcrm_member;
