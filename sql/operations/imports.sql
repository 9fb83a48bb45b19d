-- Customer import: preview a file of customers, then commit exactly what was previewed.
--
--   preview (src/call/imports.rs, one transaction as the caller):
--     app.open_customer_import(options)            → an import, status staging
--     app.stage_customer_import_rows(id, rows) × n → the file's rows, 1,000 at a time, as read
--     api.preview_customer_import(options + id)    → each row mapped, checked, matched; status previewed
--   commit: api.commit_customer_import({importId}) → every create and update row applied, or none
--
-- The rules of a preview, row by row (the file's rows are data rows, numbered from 1):
--   * A cell maps to a customer field through the mapping (column → field); without one, columns
--     named like a field (Email, E-mail, Phone number, First name …, and list_customers' CSV
--     export columns) map themselves. Empty cells count as absent: they never erase anything.
--   * A row whose cells do not hold a valid customer (email, phone, stage, tags, consent, sizes)
--     is an error, with every field at fault; nothing of it is imported.
--   * A row matches an existing live customer by email; else by phone, when the row has no email
--     or that customer has none (two people may share a phone). A phone shared by several
--     customers, for a row without email, is an error (ambiguous_match).
--   * Within the file, the first valid row for an email or a matched customer wins, and a row
--     without email repeats the first row with its phone; later ones are skipped as
--     duplicate_in_file, naming the row they repeat.
--   * A matched row updates the customer (onExisting update, the default): cells given replace,
--     tags are added, custom fields merge, consent is set; if nothing would change it is skipped
--     (unchanged). With onExisting skip it is skipped (already_exists).
--   * An unmatched row creates a customer; it needs a name (or first and last name). Source is
--     import unless a column gives one. Consent from the file is recorded with source import.
--   * The import's tags are added to every customer it creates or updates.
-- A commit re-checks what the preview relied on: a customer to update that changed or was
-- deleted since, or an email to create that another customer took since, refuses the whole
-- commit (import_stale: preview again). Committing a committed import changes nothing.

create function app.customer_import_json(i app.customer_imports) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', i.id,
    'status', case when i.status = 'previewed' and i.expires_at <= pg_catalog.now() then 'expired' else i.status end,
    'format', i.format,
    'columns', pg_catalog.to_jsonb(i.columns),
    'mapping', i.mapping,
    'onExisting', i.on_existing,
    'tags', pg_catalog.to_jsonb(i.tags),
    'rowCount', coalesce((select pg_catalog.sum(n::int) from pg_catalog.jsonb_each_text(i.counts) c(a, n)), 0),
    'counts', pg_catalog.jsonb_build_object(
      'create', coalesce((i.counts ->> 'create')::int, 0), 'update', coalesce((i.counts ->> 'update')::int, 0),
      'skip', coalesce((i.counts ->> 'skip')::int, 0), 'error', coalesce((i.counts ->> 'error')::int, 0)),
    'createdAt', app.ts(i.created_at),
    'previewedAt', app.ts(i.previewed_at),
    'expiresAt', case when i.status <> 'committed' then app.ts(i.expires_at) end,
    'committedAt', app.ts(i.committed_at))
$$;
comment on function app.customer_import_json(app.customer_imports) is 'The API representation of a customer import.';
grant execute on function app.customer_import_json(app.customer_imports) to favcrm_member;

create function app.customer_import_row_json(r app.customer_import_rows) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'row', r.line,
    'action', r.action,
    'reason', r.reason,
    'errors', coalesce(r.errors, '[]'),
    'duplicateOfRow', r.duplicate_of,
    'customerId', r.customer_id,
    'changes', pg_catalog.to_jsonb(coalesce(r.changes, '{}')),
    'customer', case when r.customer is not null then pg_catalog.jsonb_build_object(
      'name', r.customer ->> 'name', 'email', r.customer ->> 'email', 'phone', r.customer ->> 'phone',
      'lifecycleStage', r.customer ->> 'lifecycle_stage', 'source', r.customer ->> 'source',
      'tags', r.customer -> 'tags', 'customFields', r.customer -> 'custom_fields',
      'marketingConsent', r.customer -> 'consent') end,
    'cells', r.raw)
$$;
comment on function app.customer_import_row_json(app.customer_import_rows) is 'The API representation of one row of a customer import: what the preview decided for it and why.';
grant execute on function app.customer_import_row_json(app.customer_import_rows) to favcrm_member;

create function app.import_problem(p_field text, p_code text, p_message text) returns jsonb
language sql immutable parallel safe as $$
  select pg_catalog.jsonb_build_object('field', p_field, 'code', p_code, 'message', p_message)
$$;
comment on function app.import_problem(text, text, text) is 'One problem with one row of an import: the field at fault, a stable code, a sentence.';
grant execute on function app.import_problem(text, text, text) to favcrm_member;

-- Tags from a cell: a JSON array of strings, or text split on ; or , (as the CSV export joins
-- them); trimmed, lower-cased, without empties or duplicates, sorted.
create function app.import_tags(p jsonb) returns text[]
language sql immutable parallel safe as $$
  select coalesce(pg_catalog.array_agg(distinct t order by t), '{}')
    from (select pg_catalog.lower(pg_catalog.btrim(e)) t
            from pg_catalog.jsonb_array_elements_text(case when pg_catalog.jsonb_typeof(p) = 'array' then p else '[]' end) e
          union all
          select pg_catalog.lower(pg_catalog.btrim(e))
            from pg_catalog.regexp_split_to_table(case when pg_catalog.jsonb_typeof(p) = 'array' then '' else p #>> '{}' end, '[;,]') e) s
   where t <> ''
$$;
comment on function app.import_tags(jsonb) is 'The tags in an import cell (array, or text split on ; or ,), normalised as customers keep them.';
grant execute on function app.import_tags(jsonb) to favcrm_member;

-- A consent cell: true/false, yes/no, y/n, 1/0, granted/withdrawn (any case); 'invalid' else.
create function app.import_consent(p jsonb) returns text
language sql immutable parallel safe as $$
  select case
    when p is null or pg_catalog.jsonb_typeof(p) = 'null' then null
    when pg_catalog.lower(pg_catalog.btrim(p #>> '{}')) in ('true', 'yes', 'y', '1', 'granted', 'opted_in', 'subscribed') then 'true'
    when pg_catalog.lower(pg_catalog.btrim(p #>> '{}')) in ('false', 'no', 'n', '0', 'withdrawn', 'opted_out', 'unsubscribed') then 'false'
    else 'invalid' end
$$;
comment on function app.import_consent(jsonb) is 'Reads a consent cell as true or false (yes/no, 1/0 …), or invalid.';
grant execute on function app.import_consent(jsonb) to favcrm_member;

-- The field a column names by itself, when no mapping is given (null: ignored).
create function app.import_field_for(p_column text) returns text
language sql immutable parallel safe as $$
  select case
    when p_column like 'customFields.%' and pg_catalog.char_length(p_column) > 13 then p_column
    else case pg_catalog.regexp_replace(pg_catalog.lower(p_column), '[^a-z0-9]', '', 'g')
      when 'name' then 'name' when 'fullname' then 'name' when 'customername' then 'name'
      when 'firstname' then 'firstName' when 'givenname' then 'firstName'
      when 'lastname' then 'lastName' when 'surname' then 'lastName' when 'familyname' then 'lastName'
      when 'email' then 'email' when 'emailaddress' then 'email'
      when 'phone' then 'phone' when 'phonenumber' then 'phone' when 'mobile' then 'phone' when 'telephone' then 'phone'
      when 'lifecyclestage' then 'lifecycleStage' when 'stage' then 'lifecycleStage'
      when 'source' then 'source'
      when 'tags' then 'tags' when 'labels' then 'tags'
      when 'marketingconsentemailgranted' then 'consent.email' when 'emailconsent' then 'consent.email'
      when 'marketingconsentsmsgranted' then 'consent.sms' when 'smsconsent' then 'consent.sms'
      when 'marketingconsentwhatsappgranted' then 'consent.whatsapp' when 'whatsappconsent' then 'consent.whatsapp'
    end end
$$;
comment on function app.import_field_for(text) is 'The customer field an import column maps to by its name alone (Email, Phone number, First name, list_customers'' export columns …), or null.';
grant execute on function app.import_field_for(text) to favcrm_member;

create function app.is_import_field(p_field text) returns boolean
language sql immutable parallel safe as $$
  select p_field in ('name', 'firstName', 'lastName', 'email', 'phone', 'lifecycleStage', 'source', 'tags',
                     'consent.email', 'consent.sms', 'consent.whatsapp')
      or (p_field ~ '^customFields\.' and pg_catalog.char_length(p_field) between 14 and 77)
$$;
comment on function app.is_import_field(text) is 'Whether an import mapping may name this customer field.';
grant execute on function app.is_import_field(text) to favcrm_member;

-- Imports are for managers and above (the row policies say so too): staff are refused rather
-- than shown nothing.
create function app.require_importer(p_scope text) returns void
language plpgsql stable set search_path = '' as $$
begin
  perform auth.require_scope(p_scope);
  if auth.role_rank(auth.role()) < auth.role_rank('manager') then
    raise exception using errcode = '42501', hint = 'forbidden', message = 'Importing customers is for managers and above.';
  end if;
end
$$;
comment on function app.require_importer(text) is 'Raises insufficient_scope without the scope, and forbidden (403) below manager.';
grant execute on function app.require_importer(text) to favcrm_member;

-- Starts an import (status staging) for the rows that follow; deletes this organisation's
-- expired previews on the way.
create function app.open_customer_import(p jsonb) returns uuid
language plpgsql set search_path = '' as $$
declare
  v_id uuid;
begin
  perform app.require_importer('customers:write');
  insert into app.customer_imports (org_id, format, on_existing, tags, created_by)
  values (auth.org_id(), p ->> 'format', coalesce(p ->> 'onExisting', 'update'), app.normalize_tags(p -> 'tags'), auth.user_id())
  returning id into v_id;
  return v_id;
end
$$;
comment on function app.open_customer_import(jsonb) is 'Starts a customer import (status staging) for the rows the preview stages; managers and above.';
grant execute on function app.open_customer_import(jsonb) to favcrm_member;

create function app.stage_customer_import_rows(p_import uuid, p_first int, p_rows jsonb) returns int
language sql as $$
  insert into app.customer_import_rows (org_id, import_id, line, raw)
  select auth.org_id(), p_import, p_first + e.n - 1, e.raw
    from pg_catalog.jsonb_array_elements(p_rows) with ordinality e(raw, n);
  select pg_catalog.jsonb_array_length(p_rows)
$$;
comment on function app.stage_customer_import_rows(uuid, int, jsonb) is 'Adds a batch of a file''s rows (objects of column → cell) to a staging import, numbered from p_first.';
grant execute on function app.stage_customer_import_rows(uuid, int, jsonb) to favcrm_member;

-- The mapping the preview uses: the one given (checked against the file's columns and the
-- fields), or each column's own field.
create function app.import_mapping(p_given jsonb, p_columns text[]) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_col text;
  v_field text;
  v_mapping jsonb := '{}';
begin
  if p_given is null or p_given = 'null'::jsonb then
    select coalesce(pg_catalog.jsonb_object_agg(c, app.import_field_for(c)), '{}') into v_mapping
      from pg_catalog.unnest(p_columns) c where app.import_field_for(c) is not null;
  else
    for v_col, v_field in select e.key, e.value #>> '{}' from pg_catalog.jsonb_each(p_given) e loop
      if not v_col = any(p_columns) then
        perform app.raise_invalid('mapping.' || v_col, 'unknown_column',
          pg_catalog.format('The file has no column %s; its columns are: %s.', v_col, pg_catalog.array_to_string(p_columns, ', ')));
      end if;
      if v_field is not null and not app.is_import_field(v_field) then
        perform app.raise_invalid('mapping.' || v_col, 'unknown_field', pg_catalog.format(
          '%s is not a customer field: use name, firstName, lastName, email, phone, lifecycleStage, source, tags, consent.email, consent.sms, consent.whatsapp or customFields.<key>, or null to ignore the column.', v_field));
      end if;
      if v_field is not null then
        if exists (select from pg_catalog.jsonb_each_text(v_mapping) m where m.value = v_field) then
          perform app.raise_invalid('mapping.' || v_col, 'duplicate_field', pg_catalog.format('Two columns map to %s; map one.', v_field));
        end if;
        v_mapping := v_mapping || pg_catalog.jsonb_build_object(v_col, v_field);
      end if;
    end loop;
  end if;
  if not exists (select from pg_catalog.jsonb_each_text(v_mapping) m
                  where m.value in ('name', 'firstName', 'lastName', 'email', 'phone')) then
    perform app.raise_invalid('mapping', 'nothing_to_match', pg_catalog.format(
      'No column maps to name, firstName, lastName, email or phone (the file''s columns: %s). Give a mapping, such as {"Full name": "name", "E-mail": "email"}.',
      pg_catalog.array_to_string(p_columns, ', ')));
  end if;
  return v_mapping;
end
$$;
comment on function app.import_mapping(jsonb, text[]) is 'Checks a given import mapping against the file''s columns and the customer fields, or derives one from the column names.';
grant execute on function app.import_mapping(jsonb, text[]) to favcrm_member;

-- p: the caller's options (mapping, onExisting, tags) and, from the server, importId and the
-- file's columns. Decides every staged row (see the top of this file) in one statement. The
-- rows were staged in this transaction, so the planner has no statistics for them and takes
-- them for one row: nested loops over them would be quadratic (10,000 rows: 172 s), so the
-- function plans without nested loops where it has a choice (10,000 rows: well under a second).
-- The steps whose columns are read several times are materialized: inlined, each reference to
-- a column re-ran its expression (a row's tags were sorted a dozen times over).
create function api.preview_customer_import(p jsonb) returns jsonb
language plpgsql set search_path = '' set enable_nestloop = off as $$
declare
  i app.customer_imports;
  v_org uuid := auth.org_id();
  v_columns text[] := array(select pg_catalog.jsonb_array_elements_text(coalesce(p -> 'columns', '[]')));
  v_mapping jsonb;
begin
  perform app.require_importer('customers:write');
  select * into i from app.customer_imports
   where org_id = v_org and id = (p ->> 'importId')::uuid and status = 'staging' for update;
  if not found then
    perform app.not_found('import', 'importId');
  end if;
  if not exists (select from app.customer_import_rows where org_id = v_org and import_id = i.id) then
    perform app.raise_invalid(case when i.format = 'json' then 'rows' else 'csv' end, 'empty_file', 'The file has no rows to import.');
  end if;
  v_mapping := app.import_mapping(p -> 'mapping', v_columns);

  with m as (
    select e.key as col, e.value #>> '{}' as field from pg_catalog.jsonb_each(v_mapping) e
  ),
  cells as (
    select r.line,
           coalesce(pg_catalog.jsonb_object_agg(m.field, r.raw -> m.col)
                      filter (where m.col is not null and pg_catalog.btrim(coalesce(r.raw ->> m.col, '')) not in ('', '[]')),
                    '{}') as f
      from app.customer_import_rows r
      left join m on r.raw ? m.col
     where r.org_id = v_org and r.import_id = i.id
     group by r.line
  ),
  n as materialized (
    select c.line,
           nullif(pg_catalog.btrim(coalesce(c.f ->> 'name', pg_catalog.concat_ws(' ', pg_catalog.btrim(c.f ->> 'firstName'),
                                                                        pg_catalog.btrim(c.f ->> 'lastName')))), '') as name,
           app.normalize_email(c.f ->> 'email') as email,
           app.normalize_phone(c.f ->> 'phone') as phone,
           pg_catalog.lower(pg_catalog.btrim(c.f ->> 'lifecycleStage')) as stage,
           pg_catalog.btrim(c.f ->> 'source') as source,
           app.import_tags(c.f -> 'tags') as tags,
           app.import_consent(c.f -> 'consent.email') as ce,
           app.import_consent(c.f -> 'consent.sms') as cs,
           app.import_consent(c.f -> 'consent.whatsapp') as cw,
           coalesce((select pg_catalog.jsonb_object_agg(pg_catalog.substr(k, 14), v)
                       from pg_catalog.jsonb_each(c.f) x(k, v) where k like 'customFields.%'), '{}') as custom
      from cells c
  ),
  checked as (
    select n.*, array_remove(array[
      case when pg_catalog.char_length(n.name) > 200 then app.import_problem('name', 'too_long', 'A name is at most 200 characters.') end,
      case when n.email is not null and not (pg_catalog.char_length(n.email) <= 254 and n.email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$')
           then app.import_problem('email', 'invalid_email', pg_catalog.format('%s is not an email address.', n.email)) end,
      case when n.phone is not null and n.phone !~ '^\+?[0-9]{5,20}$'
           then app.import_problem('phone', 'invalid_phone', pg_catalog.format('%s is not a phone number (5 to 20 digits, optionally after +).', n.phone)) end,
      case when n.stage is not null and n.stage not in ('lead', 'prospect', 'customer', 'vip', 'churned')
           then app.import_problem('lifecycleStage', 'invalid_lifecycle_stage', pg_catalog.format('%s is not a lifecycle stage (lead, prospect, customer, vip, churned).', n.stage)) end,
      case when pg_catalog.char_length(n.source) > 64 then app.import_problem('source', 'too_long', 'A source is at most 64 characters.') end,
      case when exists (select from pg_catalog.unnest(n.tags) t where pg_catalog.char_length(t) > 50)
           then app.import_problem('tags', 'invalid_tag', 'Each tag is at most 50 characters.') end,
      case when pg_catalog.cardinality(n.tags || i.tags) > 50 then app.import_problem('tags', 'too_many_tags', 'A customer has at most 50 tags.') end,
      case when n.ce = 'invalid' then app.import_problem('consent.email', 'invalid_consent', 'Consent is yes or no (true/false, 1/0, granted/withdrawn).') end,
      case when n.cs = 'invalid' then app.import_problem('consent.sms', 'invalid_consent', 'Consent is yes or no (true/false, 1/0, granted/withdrawn).') end,
      case when n.cw = 'invalid' then app.import_problem('consent.whatsapp', 'invalid_consent', 'Consent is yes or no (true/false, 1/0, granted/withdrawn).') end,
      case when pg_catalog.octet_length(n.custom::text) > 16384 then app.import_problem('customFields', 'too_large', 'Custom fields are at most 16 KB of JSON.') end
    ], null) as problems
      from n
  ),
  by_email as (
    select c.email, c.id from app.customers c
     where c.org_id = v_org and c.deleted_at is null
       and c.email in (select k.email from checked k where k.email is not null)
  ),
  by_phone as (
    select c.phone, pg_catalog.count(*) as n, (pg_catalog.array_agg(c.id))[1] as id, bool_and(c.email is null) as no_email
      from app.customers c
     where c.org_id = v_org and c.deleted_at is null
       and c.phone in (select k.phone from checked k where k.phone is not null)
     group by c.phone
  ),
  matched as (
    select k.*,
           coalesce(e.id, case when ph.n = 1 and (k.email is null or ph.no_email) then ph.id end) as match_id,
           e.id is null and k.email is null and coalesce(ph.n, 0) > 1 as ambiguous
      from checked k
      left join by_email e on e.email = k.email
      left join by_phone ph on ph.phone = k.phone
  ),
  firsts as (
    select m.*,
           coalesce(least(case when m.email is not null then pg_catalog.min(m.line) over (partition by m.email) end,
                 case when m.email is null and m.phone is not null then pg_catalog.min(m.line) over (partition by m.phone) end,
                 case when m.match_id is not null then pg_catalog.min(m.line) over (partition by m.match_id) end), m.line) as first_line
      from matched m
     where pg_catalog.cardinality(m.problems) = 0 and not m.ambiguous
  ),
  decided as materialized (
    select k.line, k.problems, k.ambiguous, f.first_line, k.match_id, c.updated_at as seen,
           case when pg_catalog.cardinality(k.problems) > 0 or k.ambiguous then null
                else pg_catalog.jsonb_build_object(
                  'name', coalesce(k.name, c.name),
                  'email', coalesce(k.email, c.email),
                  'phone', coalesce(k.phone, c.phone),
                  'lifecycle_stage', coalesce(k.stage, c.lifecycle_stage, 'customer'),
                  'source', coalesce(nullif(k.source, ''), c.source, case when c.id is null then 'import' end),
                  'tags', pg_catalog.to_jsonb(array(select distinct t from pg_catalog.unnest(coalesce(c.tags, '{}') || k.tags || i.tags) t order by t)),
                  'custom_fields', coalesce(c.custom_fields, '{}') || k.custom,
                  'consent', pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                     'email', case when k.ce is not null then pg_catalog.jsonb_build_object('granted', k.ce::boolean, 'source', 'import') end,
                     'sms', case when k.cs is not null then pg_catalog.jsonb_build_object('granted', k.cs::boolean, 'source', 'import') end,
                     'whatsapp', case when k.cw is not null then pg_catalog.jsonb_build_object('granted', k.cw::boolean, 'source', 'import') end)))
           end as after,
           c as before
      from matched k
      left join firsts f on f.line = k.line
      left join app.customers c on c.org_id = v_org and c.id = k.match_id
  ),
  final as materialized (
    select d.line, d.match_id, d.seen, d.after,
           case when d.before is null or d.after is null then null else array_remove(array[
             case when d.after ->> 'name' is distinct from (d.before).name then 'name' end,
             case when d.after ->> 'email' is distinct from (d.before).email then 'email' end,
             case when d.after ->> 'phone' is distinct from (d.before).phone then 'phone' end,
             case when d.after ->> 'lifecycle_stage' is distinct from (d.before).lifecycle_stage then 'lifecycleStage' end,
             case when d.after ->> 'source' is distinct from (d.before).source then 'source' end,
             case when d.after -> 'tags' is distinct from pg_catalog.to_jsonb((d.before).tags) then 'tags' end,
             case when d.after -> 'custom_fields' is distinct from (d.before).custom_fields then 'customFields' end,
             case when app.merge_consent((d.before).marketing_consent, d.after -> 'consent') is distinct from (d.before).marketing_consent
                  then 'marketingConsent' end
           ], null) end as changes,
           case when d.ambiguous then array[app.import_problem('phone', 'ambiguous_match',
                  'Several customers have this phone number and the row has no email: add the email, or leave the phone out.')]
                when pg_catalog.cardinality(d.problems) > 0 then d.problems
                when d.match_id is null and d.after ->> 'name' is null and d.first_line = d.line
                  then array[app.import_problem('name', 'required', 'A new customer needs a name (or a first and last name).')]
           end as problems,
           d.first_line
      from decided d
  )
  update app.customer_import_rows r set
    action = case when x.problems is not null then 'error'
                  when x.first_line < x.line then 'skip'
                  when x.match_id is not null and i.on_existing = 'skip' then 'skip'
                  when x.match_id is not null and pg_catalog.cardinality(x.changes) = 0 then 'skip'
                  when x.match_id is not null then 'update'
                  else 'create' end,
    reason = case when x.problems is not null then null
                  when x.first_line < x.line then 'duplicate_in_file'
                  when x.match_id is not null and i.on_existing = 'skip' then 'already_exists'
                  when x.match_id is not null and pg_catalog.cardinality(x.changes) = 0 then 'unchanged' end,
    errors = pg_catalog.to_jsonb(x.problems),
    duplicate_of = case when x.problems is null and x.first_line < x.line then x.first_line end,
    customer_id = case when x.problems is not null or x.first_line < x.line then null
                       else coalesce(x.match_id, app.uuid_v7()) end,
    customer_seen = case when x.problems is null and x.first_line = x.line then x.seen end,
    customer = case when x.problems is null and x.first_line = x.line then x.after end,
    changes = case when x.problems is null and x.first_line = x.line and x.match_id is not null then x.changes end
  from final x
  where r.org_id = v_org and r.import_id = i.id and r.line = x.line;

  update app.customer_imports set
    status = 'previewed', columns = v_columns, mapping = v_mapping, previewed_at = pg_catalog.now(),
    expires_at = pg_catalog.now() + interval '24 hours',
    counts = (select pg_catalog.jsonb_object_agg(a.action, a.n)
                from (select r.action, pg_catalog.count(*) n from app.customer_import_rows r
                       where r.org_id = v_org and r.import_id = i.id group by r.action) a)
  where org_id = v_org and id = i.id
  returning * into i;
  return app.customer_import_json(i) || pg_catalog.jsonb_build_object('firstErrors', coalesce((
    select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('row', r.line, 'errors', r.errors) order by r.line)
      from (select * from app.customer_import_rows r
             where r.org_id = v_org and r.import_id = i.id and r.action = 'error' order by r.line limit 20) r), '[]'));
end
$$;
comment on function api.preview_customer_import(jsonb) is 'Decides every staged row of an import (create, update, skip, error, with reasons) and returns the counts and the first errors; nothing changes in customers.';
grant execute on function api.preview_customer_import(jsonb) to favcrm_member;

create function app.customer_import_for(p jsonb, p_lock boolean) returns app.customer_imports
language plpgsql set search_path = '' as $$
declare
  i app.customer_imports;
begin
  if p_lock then
    select * into i from app.customer_imports
     where org_id = auth.org_id() and id = (p ->> 'importId')::uuid and status <> 'staging' for update;
  else
    select * into i from app.customer_imports
     where org_id = auth.org_id() and id = (p ->> 'importId')::uuid and status <> 'staging';
  end if;
  if not found then
    perform app.not_found('import', 'importId');
  end if;
  return i;
end
$$;
comment on function app.customer_import_for(jsonb, boolean) is 'The previewed or committed import of this organisation named by importId (locked when asked), or not_found.';
grant execute on function app.customer_import_for(jsonb, boolean) to favcrm_member;

create function api.commit_customer_import(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  i app.customer_imports;
  v_org uuid := auth.org_id();
  v_stale int;
  v_first int;
begin
  perform app.require_importer('customers:write');
  i := app.customer_import_for(p, true);
  if i.status = 'committed' then
    return app.customer_import_json(i);
  end if;
  if i.expires_at <= pg_catalog.now() then
    raise exception using errcode = '55000', hint = 'import_expired', column = 'importId',
      message = 'This preview expired (previews last 24 hours): preview the file again.';
  end if;
  select pg_catalog.count(*), pg_catalog.min(r.line) into v_stale, v_first
    from app.customer_import_rows r
   where r.org_id = v_org and r.import_id = i.id and r.action in ('create', 'update')
     and (r.action = 'update' and not exists (
            select from app.customers c
             where c.org_id = v_org and c.id = r.customer_id and c.deleted_at is null and c.updated_at = r.customer_seen)
       or r.action = 'create' and r.customer ->> 'email' is not null and exists (
            select from app.customers c
             where c.org_id = v_org and c.email = r.customer ->> 'email' and c.deleted_at is null));
  if v_stale > 0 then
    raise exception using errcode = '40001', hint = 'import_stale', column = 'importId',
      message = pg_catalog.format('%s row(s) no longer hold as previewed (the first: row %s): a customer changed, was deleted or took an email since. Nothing was imported; preview the file again.', v_stale, v_first);
  end if;
  insert into app.customers (org_id, id, name, email, phone, lifecycle_stage, source, tags, custom_fields, marketing_consent)
  select v_org, r.customer_id, r.customer ->> 'name', r.customer ->> 'email', r.customer ->> 'phone',
         r.customer ->> 'lifecycle_stage', r.customer ->> 'source',
         array(select pg_catalog.jsonb_array_elements_text(r.customer -> 'tags')),
         r.customer -> 'custom_fields', app.merge_consent('{}', r.customer -> 'consent')
    from app.customer_import_rows r
   where r.org_id = v_org and r.import_id = i.id and r.action = 'create'
   order by r.line;
  update app.customers c set
    name = r.customer ->> 'name', email = r.customer ->> 'email', phone = r.customer ->> 'phone',
    lifecycle_stage = r.customer ->> 'lifecycle_stage', source = r.customer ->> 'source',
    tags = array(select pg_catalog.jsonb_array_elements_text(r.customer -> 'tags')),
    custom_fields = r.customer -> 'custom_fields',
    marketing_consent = app.merge_consent(c.marketing_consent, r.customer -> 'consent'),
    updated_at = pg_catalog.now()
    from app.customer_import_rows r
   where r.org_id = v_org and r.import_id = i.id and r.action = 'update'
     and c.org_id = v_org and c.id = r.customer_id;
  update app.customer_imports set status = 'committed', committed_at = pg_catalog.now()
   where org_id = v_org and id = i.id
  returning * into i;
  return app.customer_import_json(i);
end
$$;
comment on function api.commit_customer_import(jsonb) is 'Applies a previewed import exactly as previewed — every create and update row, or none (import_stale, import_expired); committing again changes nothing.';
grant execute on function api.commit_customer_import(jsonb) to favcrm_member;

create function api.get_customer_import(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
begin
  perform app.require_importer('customers:read');
  return app.customer_import_json(app.customer_import_for(p, false));
end
$$;
comment on function api.get_customer_import(jsonb) is 'One customer import: its status, mapping and counts.';
grant execute on function api.get_customer_import(jsonb) to favcrm_member;

-- Rows in file order; the cursor is the last row's number (carried in a cursor's 16 bytes).
create function api.list_customer_import_rows(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  i app.customer_imports;
  v_limit int := app.page_limit(p);
  v_after int := coalesce(('x' || pg_catalog.right(pg_catalog.replace(app.decode_cursor(p ->> 'cursor')::text, '-', ''), 8))::bit(32)::int, 0);
begin
  perform app.require_importer('customers:read');
  i := app.customer_import_for(p, false);
  return (
    select pg_catalog.jsonb_build_object(
             'items', coalesce(pg_catalog.jsonb_agg(app.customer_import_row_json(x.r) order by x.n) filter (where x.n <= v_limit), '[]'),
             'nextCursor', case when pg_catalog.count(*) > v_limit then app.encode_cursor(pg_catalog.lpad(pg_catalog.to_hex(
                              pg_catalog.max((x.r).line) filter (where x.n <= v_limit)), 32, '0')::uuid) end)
      from (select r, pg_catalog.row_number() over (order by r.line) n
              from app.customer_import_rows r
             where r.org_id = i.org_id and r.import_id = i.id and r.line > v_after
               and (p ->> 'action' is null or r.action = p ->> 'action')
             order by r.line
             limit v_limit + 1) x);
end
$$;
comment on function api.list_customer_import_rows(jsonb) is 'The rows of an import in file order, by action (create, update, skip, error): what the preview decided for each and why.';
grant execute on function api.list_customer_import_rows(jsonb) to favcrm_member;
