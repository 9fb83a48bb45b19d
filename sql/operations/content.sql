-- Content: posts and pages of the organisation's site, made of typed blocks.
--
--   * A post or page has a slug unique in the organisation (derived from the title when not
--     given), a title, an optional excerpt and a list of blocks: heading {text, level 1-3},
--     text {text}, image {url (https), alt}, service_list {serviceIds, or every active service},
--     booking_button {serviceId, label}, faq {items [{question, answer}]}. The server checks
--     their shape (the operation's input schema); this file checks what only the database
--     knows (the services exist here) and the image's address.
--   * Drafts until published. publish_post publishes now or at publishAt: a post published for
--     a later time is "scheduled" and goes live then, with no job to run (what is live is
--     decided by the time it is read). unpublish_post makes it a draft again.
--   * Members read everything; managers and above write. Web pages (publishable keys, through
--     auth.publishable_call) read only what is live: the policy on app.posts for the owner role
--     says so, whatever a function asks for.

create function app.post_status(c app.posts) returns text
language sql stable parallel safe as $$
  select case when c.status = 'draft' then 'draft'
              when c.published_at > pg_catalog.now() then 'scheduled'
              else 'published' end
$$;
comment on function app.post_status(app.posts) is 'draft, scheduled (published for a later time) or published (live).';
grant execute on function app.post_status(app.posts) to favcrm_member;

create function app.post_json(c app.posts) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', c.id,
    'kind', c.kind,
    'slug', c.slug,
    'title', c.title,
    'excerpt', c.excerpt,
    'blocks', c.blocks,
    'status', app.post_status(c),
    'publishedAt', app.ts(c.published_at),
    'createdAt', app.ts(c.created_at),
    'updatedAt', app.ts(c.updated_at))
$$;
comment on function app.post_json(app.posts) is 'The API representation of a post or page.';
grant execute on function app.post_json(app.posts) to favcrm_member;

create function app.require_content_writer(p_action text) returns void
language plpgsql stable set search_path = '' as $$
begin
  perform auth.require_scope('content:write');
  if auth.role_rank(auth.role()) < auth.role_rank('manager') then
    raise exception using errcode = '42501', hint = 'forbidden',
      message = pg_catalog.format('Only managers and above can %s.', p_action);
  end if;
end
$$;
comment on function app.require_content_writer(text) is 'Raises 42501 unless the caller holds content:write and is a manager, admin or owner.';
grant execute on function app.require_content_writer(text) to favcrm_member;

-- A slug from a title: lower case letters and digits joined by single hyphens.
create function app.slug_of(p_text text) returns text
language sql immutable parallel safe as $$
  select nullif(pg_catalog.left(pg_catalog.btrim(pg_catalog.regexp_replace(pg_catalog.lower(p_text), '[^a-z0-9]+', '-', 'g'), '-'), 100), '')
$$;
comment on function app.slug_of(text) is 'A slug made from text (lower-case ASCII letters and digits joined by hyphens), or NULL when none is left.';
grant execute on function app.slug_of(text) to favcrm_member;

-- The blocks as given, once what only the database knows is checked: services that exist in the
-- organisation, and images at https addresses.
create function app.check_blocks(p_blocks jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  b jsonb;
  i int := 0;
begin
  for b in select x from pg_catalog.jsonb_array_elements(coalesce(p_blocks, '[]')) x loop
    case b ->> 'type'
      when 'service_list' then
        perform app.require_services(b -> 'serviceIds', pg_catalog.format('blocks.%s.serviceIds', i));
      when 'booking_button' then
        if b ->> 'serviceId' is not null then
          perform app.require_services(pg_catalog.jsonb_build_array(b -> 'serviceId'), pg_catalog.format('blocks.%s.serviceId', i));
        end if;
      when 'image' then
        if b ->> 'url' !~ '^https://[^[:space:]/]+\.[^[:space:]]+$' then
          perform app.raise_invalid(pg_catalog.format('blocks.%s.url', i), 'invalid_url', 'An image is an https:// address.');
        end if;
      else null;
    end case;
    i := i + 1;
  end loop;
  return coalesce(p_blocks, '[]');
end
$$;
comment on function app.check_blocks(jsonb) is 'Checks a post''s blocks against the organisation (services it has, https images) and returns them.';
grant execute on function app.check_blocks(jsonb) to favcrm_member;

create function app.post_for_update(p_id uuid) returns app.posts
language plpgsql set search_path = '' as $$
declare
  c app.posts;
begin
  select * into c from app.posts where org_id = auth.org_id() and id = p_id for update;
  if not found then
    perform app.not_found('post', 'postId');
  end if;
  return c;
end
$$;
comment on function app.post_for_update(uuid) is 'Locks and returns a post of the organisation, or raises not_found.';
grant execute on function app.post_for_update(uuid) to favcrm_member;

create function app.raise_slug_taken(p_slug text) returns void
language plpgsql set search_path = '' as $$
begin
  raise exception using errcode = '23505', column = 'slug', hint = 'slug_taken',
    message = pg_catalog.format('Another post or page of this organisation has the slug %s.', p_slug);
end
$$;
comment on function app.raise_slug_taken(text) is 'Raises 23505 slug_taken on the field slug.';
grant execute on function app.raise_slug_taken(text) to favcrm_member;

create function api.create_post(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  c app.posts;
  v_slug text := coalesce(p ->> 'slug', app.slug_of(p ->> 'title'));
begin
  perform app.require_content_writer('write posts and pages');
  if v_slug is null then
    perform app.raise_invalid('slug', 'slug_required', 'The title has no letters or digits to make a slug from: give a slug.');
  end if;
  begin
    insert into app.posts (org_id, kind, slug, title, excerpt, blocks, created_by)
    values (auth.org_id(), coalesce(p ->> 'kind', 'post'), v_slug, pg_catalog.btrim(p ->> 'title'), p ->> 'excerpt',
            app.check_blocks(p -> 'blocks'), auth.user_id())
    returning * into c;
  exception when unique_violation then
    perform app.raise_slug_taken(v_slug);
  end;
  return app.post_json(c);
end
$$;
comment on function api.create_post(jsonb) is 'Writes a draft post or page: title, slug (from the title unless given), excerpt and blocks (managers and above).';
grant execute on function api.create_post(jsonb) to favcrm_member;

create function api.update_post(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  o app.posts;
  c app.posts;
begin
  perform app.require_content_writer('change posts and pages');
  o := app.post_for_update((p ->> 'postId')::uuid);
  c := o;
  if p ? 'title' then c.title := pg_catalog.btrim(p ->> 'title'); end if;
  if p ? 'slug' then c.slug := p ->> 'slug'; end if;
  if p ? 'excerpt' then c.excerpt := p ->> 'excerpt'; end if;
  if p ? 'blocks' then c.blocks := app.check_blocks(p -> 'blocks'); end if;
  if c is not distinct from o then
    return app.post_json(o);
  end if;
  begin
    update app.posts set title = c.title, slug = c.slug, excerpt = c.excerpt, blocks = c.blocks,
                         updated_at = pg_catalog.now()
     where org_id = o.org_id and id = o.id
    returning * into c;
  exception when unique_violation then
    perform app.raise_slug_taken(c.slug);
  end;
  return app.post_json(c);
end
$$;
comment on function api.update_post(jsonb) is 'Changes a post''s title, slug, excerpt or blocks; a published post shows the change at once (managers and above).';
grant execute on function api.update_post(jsonb) to favcrm_member;

create function api.publish_post(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  c app.posts;
  v_at timestamptz := coalesce((p ->> 'publishAt')::timestamptz, pg_catalog.now());
begin
  perform app.require_content_writer('publish posts and pages');
  c := app.post_for_update((p ->> 'postId')::uuid);
  -- Publishing a live post again keeps its date (twice changes nothing); a new time moves it.
  if c.status = 'published' and (p ->> 'publishAt' is null and c.published_at <= pg_catalog.now()
                                 or c.published_at = v_at) then
    return app.post_json(c);
  end if;
  update app.posts set status = 'published', published_at = v_at, updated_at = pg_catalog.now()
   where org_id = c.org_id and id = c.id
  returning * into c;
  return app.post_json(c);
end
$$;
comment on function api.publish_post(jsonb) is 'Publishes a post or page now, or at publishAt (then it is scheduled and goes live at that time); publishing a live post again changes nothing (managers and above).';
grant execute on function api.publish_post(jsonb) to favcrm_member;

create function api.unpublish_post(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  c app.posts;
begin
  perform app.require_content_writer('unpublish posts and pages');
  c := app.post_for_update((p ->> 'postId')::uuid);
  if c.status = 'draft' then
    return app.post_json(c);
  end if;
  update app.posts set status = 'draft', published_at = null, updated_at = pg_catalog.now()
   where org_id = c.org_id and id = c.id
  returning * into c;
  return app.post_json(c);
end
$$;
comment on function api.unpublish_post(jsonb) is 'Takes a post or page off the site (or cancels its scheduled publication): a draft again (managers and above).';
grant execute on function api.unpublish_post(jsonb) to favcrm_member;

create function api.list_posts(p jsonb) returns json
language plpgsql stable set search_path = '' as $$
declare
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
begin
  perform auth.require_scope('content:read');
  return (
    select app.page_json(pg_catalog.json_agg(app.post_json(x.c) order by x.n) filter (where x.n <= v_limit),
                         (pg_catalog.array_agg(x.id) filter (where x.n = v_limit))[1],
                         pg_catalog.count(*) > v_limit)
      from (select c.id, c, pg_catalog.row_number() over (order by c.id desc) n
              from app.posts c
             where c.org_id = auth.org_id()
               and (p ->> 'kind' is null or c.kind = p ->> 'kind')
               and (p ->> 'status' is null or app.post_status(c) = p ->> 'status')
               and (v_after is null or c.id < v_after)
             order by c.id desc
             limit v_limit + 1) x);
end
$$;
comment on function api.list_posts(jsonb) is 'Posts and pages, newest first, by kind and status (draft, scheduled, published).';
grant execute on function api.list_posts(jsonb) to favcrm_member;

-- A post by id, or else by slug (a slug may look like an id: the id is tried first).
create function app.post_by_id_or_slug(p_ref text) returns app.posts
language plpgsql stable set search_path = '' as $$
declare
  c app.posts;
begin
  if p_ref ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    select * into c from app.posts where org_id = auth.org_id() and id = p_ref::uuid;
  end if;
  if c.id is null then
    select * into c from app.posts where org_id = auth.org_id() and slug = p_ref;
  end if;
  if c.id is null then
    perform app.not_found('post', 'postId');
  end if;
  return c;
end
$$;
comment on function app.post_by_id_or_slug(text) is 'The post of the organisation with this id, or else this slug (only live ones for a web page, by the policy); not_found otherwise.';
grant execute on function app.post_by_id_or_slug(text) to favcrm_member;

create function api.get_post(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  c app.posts;
begin
  perform auth.require_scope('content:read');
  c := app.post_by_id_or_slug(p ->> 'postId');
  return app.post_json(c);
end
$$;
comment on function api.get_post(jsonb) is 'One post or page, by id or by slug (postId takes either).';
grant execute on function api.get_post(jsonb) to favcrm_member;

-- For web pages (auth.publishable_call, as the owner role, whose policy shows only live posts):
-- the live posts and pages, the latest first, or one by slug.
create function app.public_posts(p jsonb) returns jsonb
language sql stable set search_path = '' as $$
  select pg_catalog.jsonb_build_object('items', coalesce(pg_catalog.jsonb_agg(app.post_json(c) order by c.published_at desc, c.id desc), '[]'))
    from (select * from app.posts c
           where c.org_id = auth.org_id()
             and (p ->> 'kind' is null or c.kind = p ->> 'kind')
           order by c.published_at desc, c.id desc
           limit app.page_limit(p)) c
$$;
comment on function app.public_posts(jsonb) is 'What a web page may list: the live posts or pages (the policy hides the rest), the latest first.';
grant execute on function app.public_posts(jsonb) to favcrm_member;

create function app.public_post(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  c app.posts;
begin
  c := app.post_by_id_or_slug(p ->> 'postId');
  return app.post_json(c);
end
$$;
comment on function app.public_post(jsonb) is 'One live post or page a web page may show, by id or slug (a draft or a scheduled one is not found).';
grant execute on function app.public_post(jsonb) to favcrm_member;
