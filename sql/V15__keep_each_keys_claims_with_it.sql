-- Authentication without rebuilding a key's claims on every request. auth.authenticate looked a
-- key up and then built what it establishes (organisation, user, key, role, effective scopes,
-- narrowing) as JSON each time: more than half of its cost. Now auth.touch_api_key, which runs
-- outside requests at most once a minute per key in use, stores that JSON with the key, and
-- auth.authenticate uses it only while it still describes the key:
--   * built for the holder's current role (claims_role = the membership's role, read live);
--   * built since the operations definitions were last applied (claims_generation = the OID of
--     the type auth.key_claims, which sql/operations/auth.sql creates anew each time), so a
--     release that changes what a role may do never meets claims an older one built;
--   * cleared by the trigger below whenever a column it was built from changes.
-- Otherwise it builds them as before. Revocation, expiry and a removed member are still read
-- live on every request.
alter table app.api_keys
  add column claims text,
  add column claims_role text,
  add column claims_generation oid;
comment on column app.api_keys.claims is 'What the key establishes (auth.key_claims as JSON), stored by auth.touch_api_key for auth.authenticate; used only while claims_role and claims_generation still match.';
comment on column app.api_keys.claims_role is 'The holder''s role the stored claims were built for.';
comment on column app.api_keys.claims_generation is 'The OID the type auth.key_claims had when the stored claims were built; it changes each time the operations definitions are applied.';

create function auth.forget_key_claims() returns trigger
language plpgsql set search_path = '' as $$
begin
  if (new.org_id, new.id, new.user_id, new.kind, new.scopes, new.toolsets, new.read_only)
     is distinct from (old.org_id, old.id, old.user_id, old.kind, old.scopes, old.toolsets, old.read_only) then
    new.claims := null;
    new.claims_role := null;
    new.claims_generation := null;
  end if;
  return new;
end
$$;
comment on function auth.forget_key_claims() is 'Trigger: clears a key''s stored claims when a column they were built from changes.';
revoke all on function auth.forget_key_claims() from public;

create trigger forget_claims before update on app.api_keys
  for each row execute function auth.forget_key_claims();

-- The stored claims are bookkeeping, like last_used_at: their change alone is not an event.
drop trigger audit_change on app.api_keys;
create trigger audit_change after insert or update or delete on app.api_keys
  for each row execute function audit.record_change('org_id', 'key_digest', 'last_used_at', 'claims', 'claims_role',
                                                    'claims_generation');
