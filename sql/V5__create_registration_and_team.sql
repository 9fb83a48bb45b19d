-- Agentic registration, team onboarding and key rotation.
--
-- One-time codes are made and checked by the server (CSPRNG, argon2id); the database keeps
-- only their argon2id hash, counts the attempts (5, then the code is dead) and is the hard
-- bound on how often a code can be asked for, whatever the number of server processes.

-- ---------------------------------------------------------------------------------------
-- Memberships can be ended; keys can be replaced.
-- ---------------------------------------------------------------------------------------
alter table app.memberships add column removed_at timestamptz;
comment on column app.memberships.removed_at is 'When the member was removed from the organisation; their keys were revoked then. A new invitation brings them back.';
create index memberships_email_idx on app.memberships (email);
grant update on app.memberships to favcrm_member;

alter table app.api_keys add column replaced_by uuid;
alter table app.api_keys add foreign key (org_id, replaced_by) references app.api_keys (org_id, id);
comment on column app.api_keys.replaced_by is 'The key that replaced this one through rotate_api_key.';

-- ---------------------------------------------------------------------------------------
-- Registration
-- ---------------------------------------------------------------------------------------
create table app.signup_requests (
  id uuid primary key default app.uuid_v7(),
  request_id text not null unique check (request_id ~ '^signup_req_[A-Za-z0-9_-]{22,}$'),
  email text not null check (email = pg_catalog.lower(email) and pg_catalog.char_length(email) <= 254),
  existing_owner boolean not null,
  organisation_name text not null check (pg_catalog.char_length(organisation_name) between 2 and 80),
  industry text not null
    check (industry in ('beauty', 'fitness', 'tutoring', 'retail', 'hospitality', 'services', 'other')),
  country text check (country ~ '^[A-Z]{2}$'),
  timezone text,
  code_hash text not null check (code_hash like '$argon2id$%'),
  attempts int not null default 0 check (attempts between 0 and 5),
  client_ip inet,
  expires_at timestamptz not null,
  superseded_at timestamptz,
  completed_at timestamptz,
  organisation_id uuid references app.organisations (id),
  created_at timestamptz not null default pg_catalog.now()
);
create index signup_requests_email_created_at_idx on app.signup_requests (email, created_at);
create index signup_requests_client_ip_created_at_idx on app.signup_requests (client_ip, created_at);
comment on table app.signup_requests is 'Pending and past registrations. Global (no tenant yet); only the registration entry points reach it. The code itself is never stored, only its argon2id hash.';
comment on column app.signup_requests.existing_owner is 'The email already owns an organisation: a notice was mailed instead of a code, and no code can complete this request.';
comment on column app.signup_requests.attempts is 'Verification attempts used; at 5 the request is dead.';

-- ---------------------------------------------------------------------------------------
-- Team invitations
-- ---------------------------------------------------------------------------------------
create table app.team_invites (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  email text not null check (email = pg_catalog.lower(email) and pg_catalog.char_length(email) <= 254),
  name text not null check (pg_catalog.char_length(name) between 1 and 200),
  role text not null check (role in ('admin', 'manager', 'staff')),
  token_digest bytea not null check (pg_catalog.length(token_digest) = 32),
  invited_by uuid not null,
  expires_at timestamptz not null,
  accepted_at timestamptz,
  accepted_user_id uuid references app.users (id),
  revoked_at timestamptz,
  code_hash text check (code_hash like '$argon2id$%'),
  code_expires_at timestamptz,
  code_attempts int not null default 0 check (code_attempts between 0 and 5),
  code_requests int not null default 0 check (code_requests between 0 and 10),
  created_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  unique (org_id, token_digest),
  foreign key (org_id, invited_by) references app.memberships (org_id, user_id)
);
create index team_invites_token_digest_idx on app.team_invites (token_digest);
create index team_invites_org_id_email_idx on app.team_invites (org_id, email);
create index team_invites_org_id_invited_by_idx on app.team_invites (org_id, invited_by);
comment on table app.team_invites is 'Invitations to join an organisation. The token (fav_inv_…) is stored as a SHA-256 digest; the 6-digit code that proves the invitee owns the email as an argon2id hash.';
comment on column app.team_invites.code_requests is 'How many codes were mailed for this invitation (at most 10).';

create trigger audit_change after insert or update or delete on app.team_invites
  for each row execute function audit.record_change('org_id', 'token_digest', 'code_hash', 'code_expires_at',
                                                     'code_attempts', 'code_requests');
grant select, insert, update on app.team_invites to favcrm_member;

