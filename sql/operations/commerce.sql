-- Commerce: products with a SKU and, when they track stock, a stock level that is the sum of
-- an append-only ledger of movements. Every member reads products and stock; managers and
-- above change them (the policies on app.products and app.stock_movements). Orders,
-- packages, plans and promotions come next (issue 13).

-- The stock level of a product that tracks it: the sum of its movements.
create function app.stock_on_hand(p_product uuid) returns bigint
language sql stable as $$
  select coalesce(sum(m.quantity), 0)::bigint
    from app.stock_movements m where m.org_id = auth.org_id() and m.product_id = p_product
$$;
comment on function app.stock_on_hand(uuid) is 'A product''s stock level: the sum of its stock movements.';
grant execute on function app.stock_on_hand(uuid) to favcrm_member;

create function app.product_json(pr app.products) returns jsonb
language sql stable as $$
  select pg_catalog.jsonb_build_object(
    'id', pr.id,
    'name', pr.name,
    'sku', pr.sku,
    'description', pr.description,
    'price', app.money(pr.price_amount, pr.currency),
    'taxRateId', pr.tax_rate_id,
    'trackStock', pr.track_stock,
    'stockOnHand', case when pr.track_stock then app.stock_on_hand(pr.id) end,
    'status', case when pr.archived_at is null then 'active' else 'archived' end,
    'createdAt', app.ts(pr.created_at),
    'updatedAt', app.ts(pr.updated_at),
    'archivedAt', app.ts(pr.archived_at))
$$;
comment on function app.product_json(app.products) is 'The API representation of a product, with its stock level when it tracks stock.';
grant execute on function app.product_json(app.products) to favcrm_member;

create function app.require_commerce_manager(p_action text) returns void
language plpgsql stable set search_path = '' as $$
begin
  perform auth.require_scope('commerce:write');
  if auth.role_rank(auth.role()) < auth.role_rank('manager') then
    raise exception using errcode = '42501', hint = 'forbidden',
      message = pg_catalog.format('Only managers, admins and owners can %s.', p_action);
  end if;
end
$$;
comment on function app.require_commerce_manager(text) is 'Raises 42501 unless the caller holds commerce:write and is a manager, admin or owner.';
grant execute on function app.require_commerce_manager(text) to favcrm_member;

create function app.product_for(p_id uuid, p_lock boolean) returns app.products
language plpgsql set search_path = '' as $$
declare
  pr app.products;
begin
  if p_lock then
    select * into pr from app.products where org_id = auth.org_id() and id = p_id for update;
  else
    select * into pr from app.products where org_id = auth.org_id() and id = p_id;
  end if;
  if not found then
    perform app.not_found('product');
  end if;
  return pr;
end
$$;
comment on function app.product_for(uuid, boolean) is 'The product with this id (locked FOR UPDATE when asked), or raises not_found.';
grant execute on function app.product_for(uuid, boolean) to favcrm_member;

-- A SKU is unique in the organisation, case-insensitively (stored upper-case).
create function app.check_sku_free(p_sku text, p_except uuid) returns void
language plpgsql stable set search_path = '' as $$
begin
  if p_sku is not null and exists (select from app.products pr where pr.org_id = auth.org_id() and pr.sku = p_sku
                                                                 and pr.id is distinct from p_except) then
    raise exception using errcode = '23505', hint = 'sku_taken', column = 'sku',
      message = pg_catalog.format('Another product already has the SKU %s.', p_sku);
  end if;
end
$$;
comment on function app.check_sku_free(text, uuid) is 'Raises 409 sku_taken when another product of the organisation has the SKU.';
grant execute on function app.check_sku_free(text, uuid) to favcrm_member;

create function api.create_product(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  pr app.products;
  v_tax uuid := (p ->> 'taxRateId')::uuid;
  v_sku text := pg_catalog.upper(pg_catalog.btrim(p ->> 'sku'));
begin
  perform app.require_commerce_manager('add products');
  if v_tax is not null then
    perform app.usable_tax_rate(v_tax, 'taxRateId');
  end if;
  perform app.check_sku_free(v_sku, null);
  insert into app.products (org_id, name, description, sku, price_amount, currency, tax_rate_id, track_stock)
  select auth.org_id(), pg_catalog.btrim(p ->> 'name'), p ->> 'description', v_sku, (p #>> '{price,amount}')::bigint,
         app.require_currency(coalesce(p #>> '{price,currency}', o.default_currency), 'price.currency'), v_tax,
         coalesce((p ->> 'trackStock')::boolean, false)
    from app.organisations o where o.id = auth.org_id()
  returning * into pr;
  return app.product_json(pr);
end
$$;
comment on function api.create_product(jsonb) is 'Adds a product: a price (minor units; the organisation''s currency by default), a default tax rate, an optional SKU unique in the organisation, and whether it tracks stock.';
grant execute on function api.create_product(jsonb) to favcrm_member;

create function api.update_product(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  o app.products;
  pr app.products;
begin
  perform app.require_commerce_manager('change products');
  o := app.product_for((p ->> 'productId')::uuid, true);
  pr := o;
  if p ? 'name' then pr.name := pg_catalog.btrim(p ->> 'name'); end if;
  if p ? 'description' then pr.description := p ->> 'description'; end if;
  if p ? 'sku' then pr.sku := pg_catalog.upper(pg_catalog.btrim(p ->> 'sku')); end if;
  if p ? 'price' then
    pr.price_amount := (p #>> '{price,amount}')::bigint;
    pr.currency := app.require_currency(coalesce(p #>> '{price,currency}', pr.currency), 'price.currency');
  end if;
  if p ? 'taxRateId' then
    pr.tax_rate_id := (p ->> 'taxRateId')::uuid;
    if pr.tax_rate_id is not null and pr.tax_rate_id is distinct from o.tax_rate_id then
      perform app.usable_tax_rate(pr.tax_rate_id, 'taxRateId');
    end if;
  end if;
  if p ? 'trackStock' then pr.track_stock := coalesce((p ->> 'trackStock')::boolean, false); end if;
  if p ? 'status' then
    pr.archived_at := case when p ->> 'status' = 'archived' then coalesce(o.archived_at, pg_catalog.now()) end;
  end if;
  if pr is not distinct from o then
    return app.product_json(o);
  end if;
  if pr.sku is distinct from o.sku then
    perform app.check_sku_free(pr.sku, o.id);
  end if;
  update app.products set
    name = pr.name, description = pr.description, sku = pr.sku, price_amount = pr.price_amount, currency = pr.currency,
    tax_rate_id = pr.tax_rate_id, track_stock = pr.track_stock, archived_at = pr.archived_at, updated_at = pg_catalog.now()
  where org_id = o.org_id and id = o.id
  returning * into pr;
  return app.product_json(pr);
end
$$;
comment on function api.update_product(jsonb) is 'Changes the fields given of a product (managers and above); status archived hides it from lists, active brings it back. Lines already billed keep their price.';
grant execute on function api.update_product(jsonb) to favcrm_member;

create function api.get_product(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  pr app.products;
begin
  perform auth.require_scope('commerce:read');
  select * into pr from app.products where org_id = auth.org_id() and id = (p ->> 'productId')::uuid;
  if not found then
    perform app.not_found('product');
  end if;
  return app.product_json(pr);
end
$$;
comment on function api.get_product(jsonb) is 'Returns one product with its stock level.';
grant execute on function api.get_product(jsonb) to favcrm_member;

-- As api.list_customers: the first page of active products is one static statement under a
-- cached plan; filters (search text, archived) go through EXECUTE.
create function api.list_products(p jsonb) returns json
language plpgsql stable set search_path = '' set plan_cache_mode = force_generic_plan as $$
declare
  v_org uuid := auth.org_id();
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
  v_archived boolean := coalesce((p ->> 'includeArchived')::boolean, false);
  v_q text := nullif(pg_catalog.btrim(p ->> 'q'), '');
  v_page json;
begin
  perform auth.require_scope('commerce:read');
  if v_q is null and not v_archived then
    return (
      select app.page_json(pg_catalog.json_agg(app.product_json(x.pr) order by x.n) filter (where x.n <= v_limit),
                           (pg_catalog.array_agg(x.id) filter (where x.n = v_limit))[1],
                           pg_catalog.count(*) > v_limit)
        from (select pr.id, pr, pg_catalog.row_number() over (order by pr.id desc) n
                from app.products pr
               where pr.org_id = v_org
                 and pr.archived_at is null
                 and pr.id < coalesce(v_after, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
               order by pr.id desc
               limit v_limit + 1) x);
  end if;
  execute $query$
    select app.page_json(pg_catalog.json_agg(app.product_json(x.pr) order by x.n) filter (where x.n <= $2),
                         (pg_catalog.array_agg(x.id) filter (where x.n = $2))[1],
                         pg_catalog.count(*) > $2)
      from (select pr.id, pr, pg_catalog.row_number() over (order by pr.id desc) n
              from app.products pr
             where pr.org_id = $1
               and ($4 or pr.archived_at is null)
               and ($3::uuid is null or pr.id < $3)
               and ($5::text is null or pr.name ilike '%' || app.escape_like($5) || '%'
                    or pr.sku = pg_catalog.upper($5))
             order by pr.id desc
             limit $2 + 1) x
  $query$ into v_page using v_org, v_limit, v_after, v_archived, v_q;
  return v_page;
end
$$;
comment on function api.list_products(jsonb) is 'The organisation''s products, newest first: active ones unless includeArchived, matching q in the name or exactly the SKU.';
grant execute on function api.list_products(jsonb) to favcrm_member;

-- A movement of stock: a change by quantity, or a count that sets the level (recorded as the
-- difference). The product's row lock makes concurrent movements take turns, so the level,
-- summed under it, never goes below zero.
create function api.adjust_stock(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  pr app.products;
  v_on_hand bigint;
  v_quantity bigint;
begin
  perform app.require_commerce_manager('adjust stock');
  pr := app.product_for((p ->> 'productId')::uuid, true);
  if not pr.track_stock then
    raise exception using errcode = '55000', hint = 'stock_not_tracked',
      message = 'The product does not track stock: set trackStock with update_product first.';
  end if;
  if (p ? 'quantity') = (p ? 'countedQuantity') then
    perform app.raise_invalid('quantity', 'quantity_or_count', 'Give quantity (a change) or countedQuantity (a count).');
  end if;
  v_on_hand := app.stock_on_hand(pr.id);
  v_quantity := coalesce((p ->> 'quantity')::bigint, (p ->> 'countedQuantity')::bigint - v_on_hand);
  if v_quantity = 0 then
    return app.product_json(pr);
  end if;
  if v_on_hand + v_quantity < 0 then
    raise exception using errcode = '55000', hint = 'insufficient_stock', column = 'quantity',
      message = pg_catalog.format('Only %s in stock.', v_on_hand),
      detail = pg_catalog.jsonb_build_object('stockOnHand', v_on_hand)::text;
  end if;
  insert into app.stock_movements (org_id, product_id, quantity, reason, note, created_by)
  values (pr.org_id, pr.id, v_quantity,
          case when p ? 'countedQuantity' then 'count' else coalesce(p ->> 'reason', 'adjustment') end,
          p ->> 'note', auth.user_id());
  return app.product_json(pr);
end
$$;
comment on function api.adjust_stock(jsonb) is 'Records a stock movement for a product that tracks stock (managers and above): a change by quantity with a reason, or a count that sets the level. The level never goes below zero.';
grant execute on function api.adjust_stock(jsonb) to favcrm_member;

create function api.list_stock_movements(p jsonb) returns json
language plpgsql stable set search_path = '' set plan_cache_mode = force_generic_plan as $$
declare
  v_org uuid := auth.org_id();
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
  v_product uuid := (p ->> 'productId')::uuid;
begin
  perform auth.require_scope('commerce:read');
  perform app.product_for(v_product, false);
  return (
    select app.page_json(pg_catalog.json_agg(pg_catalog.json_build_object(
                           'id', x.id, 'productId', x.product_id, 'quantity', x.quantity, 'reason', x.reason,
                           'note', x.note, 'createdByUserId', x.created_by, 'createdAt', app.ts(x.created_at))
                           order by x.n) filter (where x.n <= v_limit),
                         (pg_catalog.array_agg(x.id) filter (where x.n = v_limit))[1],
                         pg_catalog.count(*) > v_limit)
      from (select m.*, pg_catalog.row_number() over (order by m.id desc) n
              from app.stock_movements m
             where m.org_id = v_org and m.product_id = v_product
               and m.id < coalesce(v_after, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
             order by m.id desc
             limit v_limit + 1) x);
end
$$;
comment on function api.list_stock_movements(jsonb) is 'A product''s stock movements, newest first: what came in and went out, why, and who recorded it.';
grant execute on function api.list_stock_movements(jsonb) to favcrm_member;
