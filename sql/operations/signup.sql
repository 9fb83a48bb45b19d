-- The no-key flows: registering an organisation and joining a team by invitation. The server
-- makes and checks the one-time codes (argon2id); these entry points store the hash, count
-- attempts and act. No api.* function: see "Registration" in sql/README.md.

-- ---------------------------------------------------------------------------------------
-- Registration
-- ---------------------------------------------------------------------------------------
-- A new organisation with its owner and first key (registration and `favcrm admin create-org`).
-- Called only from SECURITY DEFINER entry points. The country seeds currency and time zone;
-- the industry's example services are added by a trigger on organisations.
create function auth.create_workspace(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_org uuid := app.uuid_v7();
  v_email text := pg_catalog.lower(pg_catalog.btrim(p ->> 'ownerEmail'));
  v_user uuid;
  v_secret text := auth.new_key_secret('agent');
  v_key uuid;
  v_country text;
  v_country_tz text;
  v_country_currency text;
  v_tz text := p ->> 'timezone';
  v_currency text := p ->> 'defaultCurrency';
begin
  if p ->> 'country' is not null then
    select c.code, c.timezone, c.currency into v_country, v_country_tz, v_country_currency
      from app.country(pg_catalog.upper(p ->> 'country')) c;
    if not found then
      perform app.raise_invalid('country', 'unknown_country',
        pg_catalog.format('%s is not an ISO 3166-1 alpha-2 country code (for example GB or US).', p ->> 'country'));
    end if;
  end if;
  v_tz := coalesce(v_tz, v_country_tz, 'UTC');
  if not app.is_timezone(v_tz) then
    perform app.raise_invalid('timezone', 'invalid_timezone', pg_catalog.format('%s is not an IANA time zone.', v_tz));
  end if;
  v_currency := coalesce(v_currency, v_country_currency, 'USD');
  if v_email is null or v_email !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' then
    perform app.raise_invalid('ownerEmail', 'invalid_email', 'The owner email is not a valid address.');
  end if;
  perform auth.set_claims(pg_catalog.jsonb_build_object(
    'org_id', v_org, 'via', coalesce(p ->> 'via', 'cli'), 'op', coalesce(p ->> 'op', 'bootstrap_organisation'),
    'request_id', p ->> 'requestId'));
  insert into app.organisations (id, name, industry, country, timezone, default_currency)
  values (v_org, pg_catalog.btrim(p ->> 'name'), coalesce(p ->> 'industry', 'other'), v_country, v_tz, v_currency);
  insert into app.users (email) values (v_email)
    on conflict (email) do update set email = excluded.email
    returning id into v_user;
  perform auth.set_claims(auth.claims() || pg_catalog.jsonb_build_object('user_id', v_user));
  insert into app.memberships (org_id, user_id, role, name, email)
  values (v_org, v_user, 'owner', coalesce(p ->> 'ownerName', pg_catalog.split_part(v_email, '@', 1)), v_email);
  insert into app.api_keys (org_id, user_id, name, kind, key_prefix, key_digest, scopes)
  values (v_org, v_user, coalesce(p ->> 'keyName', 'Owner key'), 'agent', pg_catalog.left(v_secret, 12),
          auth.sha256(v_secret), auth.role_scopes('owner'))
  returning id into v_key;
  return pg_catalog.jsonb_build_object('organisationId', v_org, 'userId', v_user, 'apiKeyId', v_key, 'apiKey', v_secret,
    'timezone', v_tz, 'defaultCurrency', v_currency);
end
$$;
comment on function auth.create_workspace(jsonb) is 'Creates an organisation (country defaults its time zone and currency), its owner and an owner agent key (shown once). Internal to the SECURITY DEFINER entry points.';
revoke all on function auth.create_workspace(jsonb) from public;

create function auth.start_signup(p jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_email text := pg_catalog.lower(pg_catalog.btrim(p ->> 'email'));
  v_name text := pg_catalog.btrim(p ->> 'organisationName');
  v_country text := pg_catalog.upper(p ->> 'country');
  v_tz text := p ->> 'timezone';
  v_ip inet := (p ->> 'clientIp')::inet;
  v_per_email int := coalesce((p #>> '{limits,perEmailPerHour}')::int, 0);
  v_per_ip int := coalesce((p #>> '{limits,perIpPerDay}')::int, 0);
  v_existing boolean;
  r app.signup_requests;
begin
  if v_email is null or v_email !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' then
    perform app.raise_invalid('email', 'invalid_email', 'The email is not a valid address.');
  end if;
  if v_name is null or pg_catalog.char_length(v_name) not between 2 and 80 then
    perform app.raise_invalid('organisationName', 'out_of_range', 'organisationName must be 2 to 80 characters.');
  end if;
  if v_country is not null and not exists (select from app.country(v_country)) then
    perform app.raise_invalid('country', 'unknown_country',
      pg_catalog.format('%s is not an ISO 3166-1 alpha-2 country code (for example GB or US).', p ->> 'country'));
  end if;
  if v_tz is not null and not app.is_timezone(v_tz) then
    perform app.raise_invalid('timezone', 'invalid_timezone',
      pg_catalog.format('%s is not an IANA time zone name (for example Europe/London).', v_tz));
  end if;
  -- One request per email at a time, so that concurrent requests cannot both pass the bound
  -- or both stay live.
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('favcrm.signup.' || v_email, 0));
  -- The hard bounds, shared by every server process: requests per email an hour, per IP a day.
  perform auth.limit_recent(array(select created_at from app.signup_requests
                                   where email = v_email and created_at > pg_catalog.now() - interval '1 hour'
                                   order by created_at desc limit v_per_email),
                            v_per_email, interval '1 hour', 'Too many registration requests for this email; wait before asking again.');
  perform auth.limit_recent(array(select created_at from app.signup_requests
                                   where client_ip = v_ip and created_at > pg_catalog.now() - interval '1 day'
                                   order by created_at desc limit v_per_ip),
                            v_per_ip, interval '1 day', 'Too many registration requests from this address today.');
  v_existing := exists (select from app.memberships
                         where email = v_email and role = 'owner' and removed_at is null);
  update app.signup_requests set superseded_at = pg_catalog.now()
   where email = v_email and completed_at is null and superseded_at is null;
  insert into app.signup_requests (request_id, email, existing_owner, organisation_name, industry, country, timezone,
                                   code_hash, client_ip, expires_at)
  values (auth.new_token('signup_req_'), v_email, v_existing, v_name, coalesce(p ->> 'industry', 'other'), v_country,
          v_tz, p ->> 'codeHash', v_ip, pg_catalog.now() + interval '10 minutes')
  returning * into r;
  perform auth.queue_account_mail(p -> 'mail', case when v_existing then 'signup_notice' else 'signup_code' end,
                                  r.email, pg_catalog.jsonb_build_object('organisationName', r.organisation_name));
  return pg_catalog.jsonb_build_object(
    'requestId', r.request_id,
    'maskedEmail', auth.mask_email(r.email),
    'expiresAt', app.ts(r.expires_at),
    'email', r.email,
    'organisationName', r.organisation_name,
    'existingOwner', r.existing_owner);
end
$$;
comment on function auth.start_signup(jsonb) is 'Registers a signup request with the argon2id hash of a code the server mails: supersedes earlier ones for the email, enforces the per-email and per-IP bounds (FV429), and writes the mail (the code, or an "already registered" notice) to the outbox.';
revoke all on function auth.start_signup(jsonb) from public;
grant execute on function auth.start_signup(jsonb) to favcrm_anon;

-- Shared refusal order for a request that cannot be verified any more.
create function auth.check_signup_alive(r app.signup_requests) returns void
language plpgsql stable set search_path = '' as $$
begin
  if r.completed_at is not null then
    perform auth.raise_gone('request_used', 'This registration was already completed. Sign in with the key it returned.');
  elsif r.superseded_at is not null then
    perform auth.raise_gone('request_superseded', 'A newer registration request for this email replaced this one; use the code from the latest email.');
  elsif r.expires_at <= pg_catalog.now() then
    perform auth.raise_gone('code_expired', 'The code expired (codes last 10 minutes). Ask for a new one with register_organisation_request.');
  elsif r.attempts >= 5 then
    perform auth.raise_gone('too_many_attempts', 'Too many wrong codes: this request is closed. Ask for a new code with register_organisation_request.');
  end if;
end
$$;
comment on function auth.check_signup_alive(app.signup_requests) is 'Raises FV410 (used, superseded, expired or out of attempts) unless a registration request can still be verified.';
revoke all on function auth.check_signup_alive(app.signup_requests) from public;

-- Takes one of the 5 attempts and hands the server the hash to check the code against.
create function auth.begin_signup_attempt(p jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  r app.signup_requests;
begin
  select * into r from app.signup_requests where request_id = p ->> 'requestId' for update;
  if not found then
    raise exception using errcode = 'P0002', hint = 'signup_request_not_found', column = 'requestId',
      message = 'No registration request has this requestId.';
  end if;
  perform auth.check_signup_alive(r);
  update app.signup_requests set attempts = attempts + 1 where id = r.id;
  return pg_catalog.jsonb_build_object('codeHash', r.code_hash, 'attemptsRemaining', 4 - r.attempts);
end
$$;
comment on function auth.begin_signup_attempt(jsonb) is 'Uses up one verification attempt (committed whatever the outcome) and returns the code hash to check against; FV410 when the request is used, superseded, expired or out of attempts.';
revoke all on function auth.begin_signup_attempt(jsonb) from public;
grant execute on function auth.begin_signup_attempt(jsonb) to favcrm_anon;

-- After the server checked the code: the workspace.
create function auth.complete_signup(p jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  r app.signup_requests;
  v_result jsonb;
begin
  select * into r from app.signup_requests where request_id = p ->> 'requestId' for update;
  if not found then
    raise exception using errcode = 'P0002', hint = 'signup_request_not_found', column = 'requestId',
      message = 'No registration request has this requestId.';
  end if;
  if r.existing_owner then
    perform auth.raise_gone('request_used', 'This registration cannot be completed.');
  end if;
  if r.completed_at is not null or r.superseded_at is not null or r.expires_at <= pg_catalog.now() then
    perform auth.check_signup_alive(r);
  end if;
  v_result := auth.create_workspace(pg_catalog.jsonb_build_object(
    'name', r.organisation_name, 'industry', r.industry, 'country', r.country, 'timezone', r.timezone,
    'ownerEmail', r.email, 'keyName', 'First agent key', 'via', p ->> 'via', 'op', 'register_organisation_verify',
    'requestId', p ->> 'requestContextId'));
  update app.signup_requests set completed_at = pg_catalog.now(), organisation_id = (v_result ->> 'organisationId')::uuid
   where id = r.id;
  return v_result || pg_catalog.jsonb_build_object('organisationName', r.organisation_name, 'industry', r.industry);
end
$$;
comment on function auth.complete_signup(jsonb) is 'Completes a registration whose code the server has verified: creates the organisation, owner and first agent key (shown once).';
revoke all on function auth.complete_signup(jsonb) from public;
grant execute on function auth.complete_signup(jsonb) to favcrm_anon;

-- ---------------------------------------------------------------------------------------
-- Joining a team
-- ---------------------------------------------------------------------------------------
-- Accepting an invitation: the invitee proves they hold the token and read the email.
create function auth.invite_by_token(p_token_digest bytea) returns app.team_invites
language plpgsql set search_path = '' as $$
declare
  i app.team_invites;
begin
  -- Found first (any organisation), then locked under that organisation's claims, which is
  -- all the update policy lets this entry point reach.
  select * into i from app.team_invites where token_digest = p_token_digest;
  if not found then
    raise exception using errcode = 'P0002', hint = 'invite_not_found', column = 'token',
      message = 'No invitation has this token.';
  end if;
  perform auth.set_claims(pg_catalog.jsonb_build_object('org_id', i.org_id));
  select * into i from app.team_invites where org_id = i.org_id and id = i.id for update;
  if i.revoked_at is not null then
    perform auth.raise_gone('invite_revoked', 'This invitation was revoked. Ask the organisation for a new one.');
  elsif i.accepted_at is not null then
    perform auth.raise_gone('invite_used', 'This invitation was already accepted.');
  elsif i.expires_at <= pg_catalog.now() then
    perform auth.raise_gone('invite_expired', 'This invitation expired. Ask the organisation for a new one.');
  end if;
  return i;
end
$$;
comment on function auth.invite_by_token(bytea) is 'Locks the pending invitation with this token digest and sets its organisation as the claims; 404 or FV410 otherwise.';
revoke all on function auth.invite_by_token(bytea) from public;

create function auth.start_invite_acceptance(p jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  i app.team_invites := auth.invite_by_token(pg_catalog.decode(p ->> 'tokenDigest', 'hex'));
  v_org_name text;
begin
  if i.code_requests >= 10 then
    perform auth.raise_rate_limited('Too many codes were asked for this invitation; ask the organisation for a new one.',
      i.expires_at - pg_catalog.now());
  end if;
  update app.team_invites
     set code_hash = p ->> 'codeHash', code_expires_at = pg_catalog.now() + interval '10 minutes',
         code_attempts = 0, code_requests = code_requests + 1
   where org_id = i.org_id and id = i.id
   returning * into i;
  select o.name into v_org_name from app.organisations o where o.id = i.org_id;
  perform auth.queue_account_mail(p -> 'mail', 'invite_code', i.email,
                                  pg_catalog.jsonb_build_object('organisationName', v_org_name));
  return pg_catalog.jsonb_build_object(
    'maskedEmail', auth.mask_email(i.email), 'expiresAt', app.ts(i.code_expires_at), 'email', i.email,
    'name', i.name, 'role', i.role, 'organisationName', v_org_name);
end
$$;
comment on function auth.start_invite_acceptance(jsonb) is 'Stores the argon2id hash of a fresh 6-digit code for a pending invitation (replacing any earlier code) and writes the mail of the code (sealed by the server) to the outbox.';
revoke all on function auth.start_invite_acceptance(jsonb) from public;
grant execute on function auth.start_invite_acceptance(jsonb) to favcrm_anon;

create function auth.begin_invite_attempt(p jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  i app.team_invites := auth.invite_by_token(pg_catalog.decode(p ->> 'tokenDigest', 'hex'));
begin
  if i.code_hash is null or i.code_expires_at <= pg_catalog.now() then
    perform auth.raise_gone('code_expired', 'There is no valid code for this invitation (codes last 10 minutes). Ask for one with accept_team_invite_request.');
  elsif i.code_attempts >= 5 then
    perform auth.raise_gone('too_many_attempts', 'Too many wrong codes. Ask for a new code with accept_team_invite_request.');
  end if;
  update app.team_invites set code_attempts = code_attempts + 1 where org_id = i.org_id and id = i.id;
  return pg_catalog.jsonb_build_object('codeHash', i.code_hash, 'attemptsRemaining', 4 - i.code_attempts);
end
$$;
comment on function auth.begin_invite_attempt(jsonb) is 'Uses up one of the 5 attempts of the invitation''s current code and returns its hash for the server to check.';
revoke all on function auth.begin_invite_attempt(jsonb) from public;
grant execute on function auth.begin_invite_attempt(jsonb) to favcrm_anon;

create function auth.complete_invite(p jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  i app.team_invites := auth.invite_by_token(pg_catalog.decode(p ->> 'tokenDigest', 'hex'));
  v_name text := coalesce(nullif(pg_catalog.btrim(p ->> 'name'), ''), i.name);
  v_user uuid;
  v_secret text := auth.new_key_secret('agent');
  v_key uuid;
  v_org_name text;
  m app.memberships;
begin
  if i.code_hash is null or i.code_expires_at <= pg_catalog.now() then
    perform auth.raise_gone('code_expired', 'The code expired. Ask for a new one with accept_team_invite_request.');
  end if;
  insert into app.users (email) values (i.email)
    on conflict (email) do update set email = excluded.email
    returning id into v_user;
  perform auth.set_claims(pg_catalog.jsonb_build_object(
    'org_id', i.org_id, 'user_id', v_user, 'via', p ->> 'via', 'op', 'accept_team_invite_verify',
    'request_id', p ->> 'requestContextId'));
  select * into m from app.memberships where org_id = i.org_id and user_id = v_user for update;
  if found and m.removed_at is null then
    perform auth.raise_gone('already_member', 'You are already a member of this organisation.');
  elsif found then
    update app.memberships set removed_at = null, role = i.role, name = v_name, updated_at = pg_catalog.now()
     where org_id = m.org_id and id = m.id
     returning * into m;
  else
    insert into app.memberships (org_id, user_id, role, name, email)
    values (i.org_id, v_user, i.role, v_name, i.email)
    returning * into m;
  end if;
  insert into app.api_keys (org_id, user_id, name, kind, key_prefix, key_digest, scopes)
  values (i.org_id, v_user, 'First agent key', 'agent', pg_catalog.left(v_secret, 12), auth.sha256(v_secret),
          auth.role_scopes(i.role))
  returning id into v_key;
  update app.team_invites set accepted_at = pg_catalog.now(), accepted_user_id = v_user
   where org_id = i.org_id and id = i.id;
  select o.name into v_org_name from app.organisations o where o.id = i.org_id;
  return pg_catalog.jsonb_build_object(
    'organisationId', i.org_id, 'organisationName', v_org_name, 'userId', v_user, 'memberId', m.id,
    'role', m.role, 'apiKeyId', v_key, 'apiKey', v_secret);
end
$$;
comment on function auth.complete_invite(jsonb) is 'After the server verified the code: the invitee becomes a member with the invited role and gets a first agent key (shown once).';
revoke all on function auth.complete_invite(jsonb) from public;
grant execute on function auth.complete_invite(jsonb) to favcrm_anon;
