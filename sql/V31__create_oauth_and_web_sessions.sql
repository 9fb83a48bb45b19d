-- OAuth 2.1 for MCP clients that add the server by URL (connectors), and people signed in to
-- the server's own pages (sign-in, consent, approval inbox, connected apps).
--
-- A client registers (RFC 7591) or is named by its metadata document's URL; a person signs in
-- by an emailed code; consenting gives the client a grant, which is an API key of kind agent
-- that nobody holds (app.api_keys.oauth_client_id set): its scopes, its holder's role and its
-- revocation work as any key's, so every policy holds for OAuth unchanged. What the client
-- holds are short-lived access tokens and rotating refresh tokens for that grant.

-- ---------------------------------------------------------------------------------------
-- Clients (global: a client exists before anyone consents to it)
-- ---------------------------------------------------------------------------------------
create table app.oauth_clients (
  id uuid primary key default app.uuid_v7(),
  client_id text not null unique check (pg_catalog.char_length(client_id) between 1 and 2048),
  kind text not null check (kind in ('registered', 'metadata_document')),
  name text not null check (pg_catalog.char_length(name) between 1 and 100),
  redirect_uris text[] not null check (pg_catalog.cardinality(redirect_uris) between 1 and 10),
  client_uri text check (pg_catalog.char_length(client_uri) <= 2048),
  auth_method text not null default 'none'
    check (auth_method in ('none', 'client_secret_post', 'client_secret_basic')),
  secret_digest bytea check (pg_catalog.length(secret_digest) = 32),
  software_id text check (pg_catalog.char_length(software_id) <= 200),
  software_version text check (pg_catalog.char_length(software_version) <= 100),
  client_ip inet,
  created_at timestamptz not null default pg_catalog.now(),
  fetched_at timestamptz,
  check ((auth_method = 'none') = (secret_digest is null))
);
create index oauth_clients_client_ip_created_at_idx on app.oauth_clients (client_ip, created_at);
comment on table app.oauth_clients is 'OAuth clients: registered dynamically (RFC 7591) or described by a client ID metadata document at their https client_id. Global (no tenant); only the OAuth entry points reach it.';
comment on column app.oauth_clients.client_id is 'What the client sends as client_id: fav_client_… for a registered client, the document''s URL for a metadata document client.';
comment on column app.oauth_clients.redirect_uris is 'Exact redirect URIs; a loopback one (127.0.0.1, [::1], localhost over http) matches on any port (RFC 8252).';
comment on column app.oauth_clients.secret_digest is 'SHA-256 of the client secret of a confidential client (shown once at registration); NULL for a public client.';
comment on column app.oauth_clients.fetched_at is 'When a metadata document client''s document was last read.';

-- ---------------------------------------------------------------------------------------
-- People signed in to the server's pages (global: a person, across organisations)
-- ---------------------------------------------------------------------------------------
create table app.web_sessions (
  id uuid primary key default app.uuid_v7(),
  token_digest bytea not null unique check (pg_catalog.length(token_digest) = 32),
  email text not null check (email = pg_catalog.lower(email) and pg_catalog.char_length(email) <= 254),
  user_id uuid references app.users (id),
  code_hash text check (code_hash like '$argon2id$%'),
  code_attempts int not null default 0 check (code_attempts between 0 and 5),
  code_expires_at timestamptz not null,
  signed_in_at timestamptz,
  organisation_id uuid,
  client_ip inet,
  created_at timestamptz not null default pg_catalog.now(),
  expires_at timestamptz not null,
  ended_at timestamptz,
  check (signed_in_at is null or user_id is not null)
);
create index web_sessions_email_created_at_idx on app.web_sessions (email, created_at);
create index web_sessions_client_ip_created_at_idx on app.web_sessions (client_ip, created_at);
create index web_sessions_expires_at_idx on app.web_sessions (expires_at);
comment on table app.web_sessions is 'A browser''s sign-in: the emailed code''s argon2id hash and attempts until signed in, then the person and the organisation chosen for the pages. The cookie holds a secret; only its SHA-256 is kept. Global (a person across organisations); only the sign-in entry points reach it.';
comment on column app.web_sessions.user_id is 'The person the email belongs to; NULL when no account has it (a notice was mailed instead of a code, and no code signs in).';
comment on column app.web_sessions.signed_in_at is 'When the code was verified. Consenting to a client needs a sign-in of the last 15 minutes.';
comment on column app.web_sessions.organisation_id is 'The organisation the pages act in, chosen among the person''s memberships (an id, not a foreign key: see sql/README.md, Scale-out).';

-- ---------------------------------------------------------------------------------------
-- Grants: an API key nobody holds
-- ---------------------------------------------------------------------------------------
alter table app.api_keys
  add column oauth_client_id uuid references app.oauth_clients (id),
  add column oauth_resource text check (pg_catalog.char_length(oauth_resource) <= 2048),
  add check ((oauth_client_id is null) = (oauth_resource is null));
comment on column app.api_keys.oauth_client_id is 'For a grant to an OAuth client: the client. The key''s own secret was never shown to anyone; the client calls with access tokens (app.oauth_tokens).';
comment on column app.api_keys.oauth_resource is 'For a grant: the resource (RFC 8707) its tokens are for: the server, or its /mcp endpoint only.';
create index api_keys_oauth_client_id_idx on app.api_keys (oauth_client_id) where oauth_client_id is not null;

-- ---------------------------------------------------------------------------------------
-- Authorization codes and tokens (tenant tables: they belong to a grant)
-- ---------------------------------------------------------------------------------------
create table app.oauth_codes (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  code_digest bytea not null check (pg_catalog.length(code_digest) = 32),
  client_id uuid not null references app.oauth_clients (id),
  user_id uuid not null,
  redirect_uri text not null,
  code_challenge text not null check (code_challenge ~ '^[A-Za-z0-9_-]{43}$'),
  resource text not null,
  scopes text[] not null,
  expires_at timestamptz not null,
  used_at timestamptz,
  key_id uuid,
  created_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  unique (org_id, code_digest),
  foreign key (org_id, user_id) references app.memberships (org_id, user_id),
  foreign key (org_id, key_id) references app.api_keys (org_id, id)
);
create index oauth_codes_code_digest_idx on app.oauth_codes (code_digest);
create index oauth_codes_expires_at_idx on app.oauth_codes (expires_at);
comment on table app.oauth_codes is 'Authorization codes: one use, five minutes, bound to the client, the redirect URI, the PKCE S256 challenge, the resource and the consented scopes. Only their SHA-256 is kept.';
comment on column app.oauth_codes.key_id is 'The grant the code was exchanged for: a second use of the code revokes it (RFC 9700).';

create table app.oauth_tokens (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  key_id uuid not null,
  kind text not null check (kind in ('access', 'refresh')),
  token_digest bytea not null check (pg_catalog.length(token_digest) = 32),
  expires_at timestamptz not null,
  rotated_at timestamptz check (rotated_at is null or kind = 'refresh'),
  created_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  unique (org_id, token_digest),
  foreign key (org_id, key_id) references app.api_keys (org_id, id)
);
create index oauth_tokens_token_digest_idx on app.oauth_tokens (token_digest);
create index oauth_tokens_org_id_key_id_idx on app.oauth_tokens (org_id, key_id);
create index oauth_tokens_expires_at_idx on app.oauth_tokens (expires_at);
comment on table app.oauth_tokens is 'Access tokens (fav_oat_…, one hour) and refresh tokens (fav_ort_…, 30 days, one use each: rotated) of a grant. Only their SHA-256 is kept. A rotated refresh token presented again revokes the grant (reuse detection).';
comment on column app.oauth_tokens.rotated_at is 'When a refresh token was exchanged for the next one; presenting it again is reuse.';

-- Who may touch these tables is in policies/; only the OAuth and sign-in entry points
-- (SECURITY DEFINER, as favcrm_owner) reach them.
alter table app.oauth_clients enable row level security;
alter table app.oauth_clients force row level security;
alter table app.web_sessions enable row level security;
alter table app.web_sessions force row level security;
alter table app.oauth_codes enable row level security;
alter table app.oauth_codes force row level security;
alter table app.oauth_tokens enable row level security;
alter table app.oauth_tokens force row level security;

-- Sign-in codes (and the notice to an email no account has) are account mail too.
alter table app.account_mail drop constraint account_mail_template_check;
alter table app.account_mail add constraint account_mail_template_check
  check (template in ('signup_code', 'signup_notice', 'invite_code', 'sign_in_code', 'sign_in_notice'));
