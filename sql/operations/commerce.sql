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
    'webListing', pr.web_listing,
    'package', case when pr.package_sessions is not null then pg_catalog.jsonb_build_object(
                 'sessions', pr.package_sessions, 'serviceIds', pg_catalog.to_jsonb(pr.package_service_ids),
                 'validityDays', pr.package_validity_days) end,
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
  insert into app.products (org_id, name, description, sku, price_amount, currency, tax_rate_id, track_stock,
                            web_listing, package_sessions, package_service_ids, package_validity_days)
  select auth.org_id(), pg_catalog.btrim(p ->> 'name'), p ->> 'description', v_sku, (p #>> '{price,amount}')::bigint,
         app.require_currency(coalesce(p #>> '{price,currency}', o.default_currency), 'price.currency'), v_tax,
         coalesce((p ->> 'trackStock')::boolean, false), coalesce(p ->> 'webListing', 'listed'),
         (p #>> '{package,sessions}')::int, app.require_services(p #> '{package,serviceIds}', 'package.serviceIds'),
         (p #>> '{package,validityDays}')::int
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
  if p ? 'webListing' then pr.web_listing := coalesce(p ->> 'webListing', 'listed'); end if;
  if p ? 'package' then
    pr.package_sessions := (p #>> '{package,sessions}')::int;
    pr.package_service_ids := app.require_services(p #> '{package,serviceIds}', 'package.serviceIds');
    pr.package_validity_days := (p #>> '{package,validityDays}')::int;
  end if;
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
    tax_rate_id = pr.tax_rate_id, track_stock = pr.track_stock, web_listing = pr.web_listing,
    package_sessions = pr.package_sessions, package_service_ids = pr.package_service_ids,
    package_validity_days = pr.package_validity_days, archived_at = pr.archived_at,
    updated_at = pg_catalog.now()
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

-- ---------------------------------------------------------------------------------------
-- Promotions: a code takes a percentage or an amount off what an order spends on the kinds it
-- applies to. Its redemptions are the orders that name it and are not cancelled, counted while
-- the promotion's row is locked: a limit of 10 gives exactly 10 of 30 concurrent orders.
-- ---------------------------------------------------------------------------------------
-- A promotion's redemptions: the orders naming it that are not cancelled, and the
-- subscriptions naming it unless cancelled before their first invoice (the discount goes on
-- that one). Counted under the promotion's row lock when a code is taken (app.take_promotion).
create function app.promotion_redemptions(pm app.promotions, p_customer uuid) returns bigint
language sql stable set search_path = '' as $$
  select (select pg_catalog.count(*) from app.orders o
           where o.org_id = pm.org_id and o.promotion_id = pm.id and o.status <> 'cancelled'
             and (p_customer is null or o.customer_id = p_customer))
       + (select pg_catalog.count(*) from app.subscriptions s
           where s.org_id = pm.org_id and s.promotion_id = pm.id
             and (p_customer is null or s.customer_id = p_customer)
             and (s.status <> 'cancelled'
                  or exists (select from app.subscription_periods sp
                              where sp.org_id = s.org_id and sp.subscription_id = s.id and sp.invoice_id is not null)))
$$;
comment on function app.promotion_redemptions(app.promotions, uuid) is 'How often a promotion was redeemed (by one customer, or by all when NULL): orders not cancelled and subscriptions not cancelled before their first invoice.';
grant execute on function app.promotion_redemptions(app.promotions, uuid) to favcrm_member;

create function app.promotion_json(pm app.promotions) returns jsonb
language sql stable as $$
  select pg_catalog.jsonb_build_object(
    'id', pm.id,
    'code', pm.code,
    'description', pm.description,
    'percentOffBp', pm.percent_off_bp,
    'amountOff', case when pm.amount_off is not null then app.money(pm.amount_off, pm.currency) end,
    'appliesTo', pg_catalog.to_jsonb(pm.applies_to),
    'minSpend', pm.min_spend,
    'startsAt', app.ts(pm.starts_at),
    'endsAt', app.ts(pm.ends_at),
    'maxRedemptions', pm.max_redemptions,
    'maxPerCustomer', pm.max_per_customer,
    'redemptions', app.promotion_redemptions(pm, null),
    'active', pm.deactivated_at is null,
    'deactivatedAt', app.ts(pm.deactivated_at),
    'createdAt', app.ts(pm.created_at))
$$;
comment on function app.promotion_json(app.promotions) is 'The API representation of a promotion, with its redemptions so far (app.promotion_redemptions).';
grant execute on function app.promotion_json(app.promotions) to favcrm_member;

create function api.create_promotion(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  pm app.promotions;
  v_code text := pg_catalog.upper(pg_catalog.btrim(p ->> 'code'));
begin
  perform app.require_commerce_manager('create promotions');
  if (p ? 'percentOffBp') = (p ? 'amountOff') then
    perform app.raise_invalid('percentOffBp', 'percent_or_amount', 'Give percentOffBp or amountOff.');
  end if;
  if exists (select from app.promotions x where x.org_id = auth.org_id() and x.code = v_code) then
    raise exception using errcode = '23505', hint = 'promotion_code_taken', column = 'code',
      message = pg_catalog.format('The code %s is taken.', v_code);
  end if;
  insert into app.promotions (org_id, code, description, percent_off_bp, amount_off, currency, applies_to, min_spend,
                              starts_at, ends_at, max_redemptions, max_per_customer, created_by)
  select auth.org_id(), v_code, p ->> 'description', (p ->> 'percentOffBp')::int, (p #>> '{amountOff,amount}')::bigint,
         case when p ? 'amountOff'
              then app.require_currency(coalesce(p #>> '{amountOff,currency}', o.default_currency), 'amountOff.currency') end,
         case when p -> 'appliesTo' is not null and p -> 'appliesTo' <> 'null'::jsonb
              then array(select distinct t from pg_catalog.jsonb_array_elements_text(p -> 'appliesTo') t order by t)
              else '{products,services}' end,
         coalesce((p ->> 'minSpend')::bigint, 0), (p ->> 'startsAt')::timestamptz, (p ->> 'endsAt')::timestamptz,
         (p ->> 'maxRedemptions')::int, (p ->> 'maxPerCustomer')::int, auth.user_id()
    from app.organisations o where o.id = auth.org_id()
  returning * into pm;
  return app.promotion_json(pm);
end
$$;
comment on function api.create_promotion(jsonb) is 'Creates a promotion code (unique in the organisation, case-insensitive): a percentage or an amount off, on products, services or plans, with a minimum spend, a window and redemption limits.';
grant execute on function api.create_promotion(jsonb) to favcrm_member;

create function api.list_promotions(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
begin
  perform auth.require_scope('commerce:read');
  return pg_catalog.jsonb_build_object('items', (
    select coalesce(pg_catalog.jsonb_agg(app.promotion_json(pm) order by pm.code), '[]')
      from app.promotions pm
     where pm.org_id = auth.org_id()
       and (pm.deactivated_at is null or coalesce((p ->> 'includeInactive')::boolean, false))));
end
$$;
comment on function api.list_promotions(jsonb) is 'The organisation''s promotions by code (active ones unless includeInactive), with their redemptions.';
grant execute on function api.list_promotions(jsonb) to favcrm_member;

create function api.deactivate_promotion(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  pm app.promotions;
begin
  perform app.require_commerce_manager('deactivate promotions');
  select * into pm from app.promotions where org_id = auth.org_id() and id = (p ->> 'promotionId')::uuid for update;
  if not found then
    perform app.not_found('promotion');
  end if;
  if pm.deactivated_at is null then
    update app.promotions set deactivated_at = pg_catalog.now() where org_id = pm.org_id and id = pm.id
    returning * into pm;
  end if;
  return app.promotion_json(pm);
end
$$;
comment on function api.deactivate_promotion(jsonb) is 'Stops a promotion code being accepted; orders that used it keep their discount. Deactivating twice changes nothing.';
grant execute on function api.deactivate_promotion(jsonb) to favcrm_member;

-- Takes a promotion code for a customer's purchase of one kind (products, services, plans):
-- checks the code's window, currency, minimum spend (on what it applies to) and limits in all
-- and per customer under the promotion's row lock, so concurrent purchases count exactly.
create function app.take_promotion(p_code text, p_customer uuid, p_currency text, p_kinds text[], p_eligible bigint)
returns app.promotions
language plpgsql set search_path = '' as $$
declare
  pm app.promotions;
  v_used bigint;
begin
  select * into pm from app.promotions
   where org_id = auth.org_id() and code = pg_catalog.upper(pg_catalog.btrim(p_code)) for update;
  if not found then
    perform app.raise_invalid('promotionCode', 'unknown_promotion', 'No promotion has that code.');
  end if;
  if pm.deactivated_at is not null then
    perform app.raise_invalid('promotionCode', 'promotion_inactive', 'The promotion was deactivated.');
  end if;
  if pm.starts_at is not null and pg_catalog.now() < pm.starts_at then
    perform app.raise_invalid('promotionCode', 'promotion_not_started',
      pg_catalog.format('The promotion starts at %s.', app.ts(pm.starts_at)));
  end if;
  if pm.ends_at is not null and pg_catalog.now() >= pm.ends_at then
    perform app.raise_invalid('promotionCode', 'promotion_expired', 'The promotion has ended.');
  end if;
  if pm.currency is not null and pm.currency <> p_currency then
    perform app.raise_invalid('promotionCode', 'currency_mismatch',
      pg_catalog.format('The promotion takes %s off; the purchase is in %s.', pm.currency, p_currency));
  end if;
  if not (pm.applies_to && p_kinds) then
    perform app.raise_invalid('promotionCode', 'promotion_not_applicable',
      pg_catalog.format('The promotion applies to %s.', pg_catalog.array_to_string(pm.applies_to, ', ')));
  end if;
  if p_eligible = 0 or p_eligible < pm.min_spend then
    raise exception using errcode = '22023', hint = 'below_minimum_spend', column = 'promotionCode',
      message = pg_catalog.format('The promotion needs a spend of %s on %s (this purchase: %s).', pm.min_spend,
                                  pg_catalog.array_to_string(pm.applies_to, ', '), p_eligible),
      detail = pg_catalog.jsonb_build_object('minSpend', pm.min_spend, 'eligibleSpend', p_eligible)::text;
  end if;
  v_used := app.promotion_redemptions(pm, null);
  if pm.max_redemptions is not null and v_used >= pm.max_redemptions then
    raise exception using errcode = '55000', hint = 'promotion_used_up', column = 'promotionCode',
      message = pg_catalog.format('The promotion has been redeemed %s times, its limit.', v_used);
  end if;
  if pm.max_per_customer is not null and app.promotion_redemptions(pm, p_customer) >= pm.max_per_customer then
    raise exception using errcode = '55000', hint = 'promotion_limit_reached', column = 'promotionCode',
      message = 'This customer has used the promotion as often as it allows.';
  end if;
  return pm;
end
$$;
comment on function app.take_promotion(text, uuid, text, text[], bigint) is 'Checks a promotion code for a purchase under the promotion''s lock (window, currency, kinds, minimum spend, limits in all and per customer) and returns it; raises a stable code naming promotionCode otherwise.';
grant execute on function app.take_promotion(text, uuid, text, text[], bigint) to favcrm_member;

-- Applies a promotion code to an order just made (its lines written), then spreads the
-- discount over the eligible lines (a percentage per line, rounded half away from zero; an
-- amount line by line in order until used up).
create function app.apply_promotion(o app.orders, p_code text) returns void
language plpgsql set search_path = '' as $$
declare
  pm app.promotions;
  v_eligible bigint;
  v_left bigint;
  l app.order_lines;
  v_take bigint;
  v_total bigint := 0;
begin
  select coalesce(sum(x.quantity::bigint * x.unit_amount)
                    filter (where (x.kind || 's') = any (coalesce(pm2.applies_to, '{}'))), 0)::bigint
    into v_eligible
    from app.order_lines x
    left join app.promotions pm2 on pm2.org_id = o.org_id and pm2.code = pg_catalog.upper(pg_catalog.btrim(p_code))
   where x.org_id = o.org_id and x.order_id = o.id;
  pm := app.take_promotion(p_code, o.customer_id, o.currency,
                           array(select distinct x.kind || 's' from app.order_lines x
                                  where x.org_id = o.org_id and x.order_id = o.id), v_eligible);
  v_left := least(coalesce(pm.amount_off, v_eligible), v_eligible);
  for l in select * from app.order_lines x
            where x.org_id = o.org_id and x.order_id = o.id and (x.kind || 's') = any (pm.applies_to)
            order by x.position loop
    if pm.percent_off_bp is not null then
      v_take := app.div_round(l.quantity::numeric * l.unit_amount * pm.percent_off_bp, 10000);
    else
      v_take := least(v_left, l.quantity::bigint * l.unit_amount);
      v_left := v_left - v_take;
    end if;
    if v_take > 0 then
      update app.order_lines set discount_amount = v_take where org_id = l.org_id and id = l.id;
      v_total := v_total + v_take;
    end if;
  end loop;
  update app.orders set promotion_id = pm.id, discount_amount = v_total where org_id = o.org_id and id = o.id;
end
$$;
comment on function app.apply_promotion(app.orders, text) is 'Takes a promotion code for an order (app.take_promotion) and spreads its discount over the eligible lines.';
grant execute on function app.apply_promotion(app.orders, text) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Orders: lines of products and services for one customer. Making one reserves the stock of
-- its tracked products (a 'reserved' movement each), the products locked in id order so that
-- concurrent orders take turns without deadlocking and the level never goes below zero.
-- pay_order bills it through an invoice; cancel_order releases the stock.
-- ---------------------------------------------------------------------------------------
create function app.order_json(o app.orders) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_invoice app.invoices;
begin
  if o.invoice_id is not null then
    select * into v_invoice from app.invoices i where i.org_id = o.org_id and i.id = o.invoice_id;
  end if;
  return pg_catalog.jsonb_build_object(
    'id', o.id,
    'customerId', o.customer_id,
    'status', o.status,
    'currency', o.currency,
    'memo', o.memo,
    'lines', (select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                      'id', l.id, 'kind', l.kind, 'productId', l.product_id, 'serviceId', l.service_id,
                      'description', l.description, 'quantity', l.quantity,
                      'unitAmount', app.money(l.unit_amount, o.currency),
                      'discount', app.money(l.discount_amount, o.currency),
                      'amount', app.money(l.quantity::bigint * l.unit_amount - l.discount_amount, o.currency))
                      order by l.position), '[]')
                from app.order_lines l where l.org_id = o.org_id and l.order_id = o.id),
    'promotionCode', (select pm.code from app.promotions pm where pm.org_id = o.org_id and pm.id = o.promotion_id),
    'discount', app.money(o.discount_amount, o.currency),
    'amount', app.money((select coalesce(sum(l.quantity::bigint * l.unit_amount - l.discount_amount), 0)::bigint
                           from app.order_lines l where l.org_id = o.org_id and l.order_id = o.id), o.currency),
    'invoiceId', o.invoice_id,
    'paymentStatus', case when o.invoice_id is null then 'not_invoiced'
                          when v_invoice.status = 'paid' then 'paid'
                          when v_invoice.status = 'void' then 'void'
                          when v_invoice.id is null then 'not_visible'
                          else 'awaiting_payment' end,
    'amountDue', case when v_invoice.id is not null
                      then app.money(app.invoice_amount_due(v_invoice), v_invoice.currency) end,
    'createdAt', app.ts(o.created_at),
    'updatedAt', app.ts(o.updated_at),
    'fulfilledAt', app.ts(o.fulfilled_at),
    'cancelledAt', app.ts(o.cancelled_at));
end
$$;
comment on function app.order_json(app.orders) is 'The API representation of an order: its lines, amount before tax, and how its invoice stands (not_invoiced, awaiting_payment, paid, void).';
grant execute on function app.order_json(app.orders) to favcrm_member;

create function app.order_for_update(p_id uuid) returns app.orders
language plpgsql set search_path = '' as $$
declare
  o app.orders;
begin
  select * into o from app.orders where org_id = auth.org_id() and id = p_id for update;
  if not found then
    perform app.not_found('order');
  end if;
  return o;
end
$$;
comment on function app.order_for_update(uuid) is 'The order with this id, locked FOR UPDATE, or raises not_found.';
grant execute on function app.order_for_update(uuid) to favcrm_member;

create function api.create_order(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  o app.orders;
  pr app.products;
  s app.services;
  v_line jsonb;
  v_n int := 0;
  v_currency text;
  v_unit bigint;
  v_on_hand bigint;
  v_wanted bigint;
begin
  perform app.require_commerce_manager('take orders');
  perform app.require_live_customer((p ->> 'customerId')::uuid);
  select coalesce(pg_catalog.upper(p ->> 'currency'), x.default_currency) into v_currency
    from app.organisations x where x.id = auth.org_id();
  v_currency := app.require_currency(v_currency, 'currency');
  -- Lock the tracked products in id order first: concurrent orders queue, never deadlock.
  perform from app.products x
   where x.org_id = auth.org_id() and x.track_stock
     and x.id in (select (l ->> 'productId')::uuid from pg_catalog.jsonb_array_elements(p -> 'lines') l)
   order by x.id
   for update;
  insert into app.orders (org_id, customer_id, currency, memo, created_by)
  values (auth.org_id(), (p ->> 'customerId')::uuid, v_currency, p ->> 'memo', auth.user_id())
  returning * into o;
  for v_line in select * from pg_catalog.jsonb_array_elements(p -> 'lines') loop
    v_n := v_n + 1;
    if (v_line ->> 'productId' is null) = (v_line ->> 'serviceId' is null) then
      perform app.raise_invalid(pg_catalog.format('lines[%s].productId', v_n - 1), 'product_or_service',
        'Each line names a productId or a serviceId.');
    end if;
    if v_line ->> 'productId' is not null then
      select * into pr from app.products where org_id = o.org_id and id = (v_line ->> 'productId')::uuid;
      if not found then
        perform app.not_found('product', pg_catalog.format('lines[%s].productId', v_n - 1));
      end if;
      if pr.archived_at is not null then
        perform app.raise_invalid(pg_catalog.format('lines[%s].productId', v_n - 1), 'product_archived',
          pg_catalog.format('%s is archived.', pr.name));
      end if;
      v_unit := coalesce((v_line ->> 'unitAmount')::bigint, pr.price_amount);
      if pr.currency <> o.currency and not (v_line ? 'unitAmount') then
        perform app.raise_invalid(pg_catalog.format('lines[%s].unitAmount', v_n - 1), 'currency_mismatch',
          pg_catalog.format('%s is priced in %s and the order is in %s: give unitAmount.', pr.name, pr.currency, o.currency));
      end if;
      insert into app.order_lines (org_id, order_id, position, kind, product_id, description, quantity, unit_amount)
      values (o.org_id, o.id, v_n, 'product', pr.id, coalesce(pg_catalog.btrim(v_line ->> 'description'), pr.name),
              coalesce((v_line ->> 'quantity')::int, 1), v_unit);
      if pr.track_stock then
        v_wanted := coalesce((v_line ->> 'quantity')::int, 1);
        v_on_hand := app.stock_on_hand(pr.id);
        if v_on_hand < v_wanted then
          raise exception using errcode = '55000', hint = 'insufficient_stock',
            column = pg_catalog.format('lines[%s].quantity', v_n - 1),
            message = pg_catalog.format('Only %s of %s in stock.', v_on_hand, pr.name),
            detail = pg_catalog.jsonb_build_object('productId', pr.id, 'stockOnHand', v_on_hand)::text;
        end if;
        insert into app.stock_movements (org_id, product_id, quantity, reason, order_id, created_by)
        values (o.org_id, pr.id, -v_wanted, 'reserved', o.id, auth.user_id());
      end if;
    else
      select * into s from app.services where org_id = o.org_id and id = (v_line ->> 'serviceId')::uuid;
      if not found then
        perform app.not_found('service', pg_catalog.format('lines[%s].serviceId', v_n - 1));
      end if;
      if s.currency <> o.currency and not (v_line ? 'unitAmount') then
        perform app.raise_invalid(pg_catalog.format('lines[%s].unitAmount', v_n - 1), 'currency_mismatch',
          pg_catalog.format('%s is priced in %s and the order is in %s: give unitAmount.', s.name, s.currency, o.currency));
      end if;
      insert into app.order_lines (org_id, order_id, position, kind, service_id, description, quantity, unit_amount)
      values (o.org_id, o.id, v_n, 'service', s.id, coalesce(pg_catalog.btrim(v_line ->> 'description'), s.name),
              coalesce((v_line ->> 'quantity')::int, 1), coalesce((v_line ->> 'unitAmount')::bigint, s.price_amount));
    end if;
  end loop;
  if p ->> 'promotionCode' is not null then
    perform app.apply_promotion(o, p ->> 'promotionCode');
    select * into o from app.orders where org_id = o.org_id and id = o.id;
  end if;
  return app.order_json(o);
end
$$;
comment on function api.create_order(jsonb) is 'Makes an order of products and services for a customer, reserving the stock of tracked products (never below zero: insufficient_stock).';
grant execute on function api.create_order(jsonb) to favcrm_member;

create function api.get_order(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  o app.orders;
begin
  perform auth.require_scope('commerce:read');
  select * into o from app.orders where org_id = auth.org_id() and id = (p ->> 'orderId')::uuid;
  if not found then
    perform app.not_found('order');
  end if;
  return app.order_json(o);
end
$$;
comment on function api.get_order(jsonb) is 'Returns one order with its lines and how its invoice stands.';
grant execute on function api.get_order(jsonb) to favcrm_member;

create function api.list_orders(p jsonb) returns json
language plpgsql stable set search_path = '' set plan_cache_mode = force_generic_plan as $$
declare
  v_org uuid := auth.org_id();
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
  v_page json;
begin
  perform auth.require_scope('commerce:read');
  execute $query$
    select app.page_json(pg_catalog.json_agg(app.order_json(x.o)::json order by x.n) filter (where x.n <= $2),
                         (pg_catalog.array_agg(x.id) filter (where x.n = $2))[1],
                         pg_catalog.count(*) > $2)
      from (select o.id, o, pg_catalog.row_number() over (order by o.id desc) n
              from app.orders o
             where o.org_id = $1
               and ($3::uuid is null or o.id < $3)
               and ($4::text is null or o.status = $4)
               and ($5::uuid is null or o.customer_id = $5)
             order by o.id desc
             limit $2 + 1) x
  $query$ into v_page using v_org, v_limit, v_after, p ->> 'status', (p ->> 'customerId')::uuid;
  return v_page;
end
$$;
comment on function api.list_orders(jsonb) is 'Orders, newest first, by status or customer.';
grant execute on function api.list_orders(jsonb) to favcrm_member;

-- Bills an order: a finalised invoice of its lines (each product line with the product's tax
-- rate, each service line with the service's), made through billing's own operations, so the
-- caller needs billing:write too. Paying an order again returns the same invoice.
create function api.pay_order(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  o app.orders;
  v_invoice jsonb;
begin
  perform app.require_commerce_manager('bill orders');
  o := app.order_for_update((p ->> 'orderId')::uuid);
  if o.status = 'cancelled' then
    raise exception using errcode = '55000', hint = 'order_cancelled', message = 'A cancelled order cannot be billed.';
  end if;
  if o.invoice_id is not null
     and exists (select from app.invoices i where i.org_id = o.org_id and i.id = o.invoice_id and i.status <> 'void') then
    return app.order_json(o);
  end if;
  v_invoice := api.create_invoice(pg_catalog.jsonb_build_object(
    'customerId', o.customer_id, 'currency', o.currency, 'memo', o.memo,
    'lines', (select pg_catalog.jsonb_agg(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                       'productId', l.product_id, 'serviceId', l.service_id, 'description', l.description,
                       'quantity', l.quantity, 'unitAmount', l.unit_amount,
                       'discountAmount', nullif(l.discount_amount, 0))) order by l.position)
                from app.order_lines l where l.org_id = o.org_id and l.order_id = o.id)));
  perform api.finalize_invoice(pg_catalog.jsonb_build_object('invoiceId', v_invoice ->> 'id'));
  update app.orders set invoice_id = (v_invoice ->> 'id')::uuid, updated_at = pg_catalog.now()
   where org_id = o.org_id and id = o.id
  returning * into o;
  -- Session packs sold: their credits, as sell_package grants them (withdrawn if the invoice is voided).
  perform app.grant_package(o.customer_id, pr, l.quantity, o.invoice_id)
     from app.order_lines l
     join app.products pr on pr.org_id = l.org_id and pr.id = l.product_id
    where l.org_id = o.org_id and l.order_id = o.id and pr.package_sessions is not null;
  return app.order_json(o);
end
$$;
comment on function api.pay_order(jsonb) is 'Bills an order with a finalised invoice of its lines (taxed as their products and services are); then record_payment or create_payment_link on that invoice. Billing it again returns the same invoice.';
grant execute on function api.pay_order(jsonb) to favcrm_member;

create function api.fulfil_order(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  o app.orders;
begin
  perform app.require_commerce_manager('fulfil orders');
  o := app.order_for_update((p ->> 'orderId')::uuid);
  if o.status = 'fulfilled' then
    return app.order_json(o);
  end if;
  if o.status <> 'open' then
    raise exception using errcode = '55000', hint = 'order_cancelled', message = 'A cancelled order cannot be fulfilled.';
  end if;
  update app.orders set status = 'fulfilled', fulfilled_at = pg_catalog.now(), updated_at = pg_catalog.now()
   where org_id = o.org_id and id = o.id
  returning * into o;
  return app.order_json(o);
end
$$;
comment on function api.fulfil_order(jsonb) is 'Marks an open order handed over (its reserved stock is gone for good). Fulfilling twice changes nothing.';
grant execute on function api.fulfil_order(jsonb) to favcrm_member;

-- Cancels an open order (locked by the caller) and puts its reserved stock back: what
-- cancel_order does once the caller may, and what reversing a loyalty redemption of a product does.
create function app.cancel_open_order(o app.orders) returns app.orders
language plpgsql set search_path = '' as $$
begin
  if o.status = 'cancelled' then
    return o;
  end if;
  if o.status = 'fulfilled' then
    raise exception using errcode = '55000', hint = 'order_fulfilled',
      message = 'A fulfilled order cannot be cancelled: record what came back with adjust_stock (returned) and credit its invoice.';
  end if;
  if o.invoice_id is not null
     and exists (select from app.invoices i where i.org_id = o.org_id and i.id = o.invoice_id and i.status <> 'void') then
    raise exception using errcode = '55000', hint = 'order_invoiced',
      message = 'The order''s invoice stands: an owner or admin voids it (or credits it if paid) before the order is cancelled.',
      detail = pg_catalog.jsonb_build_object('invoiceId', o.invoice_id)::text;
  end if;
  insert into app.stock_movements (org_id, product_id, quantity, reason, order_id, created_by)
  select m.org_id, m.product_id, -m.quantity, 'released', m.order_id, auth.user_id()
    from app.stock_movements m
   where m.org_id = o.org_id and m.order_id = o.id and m.reason = 'reserved';
  update app.orders set status = 'cancelled', cancelled_at = pg_catalog.now(), updated_at = pg_catalog.now()
   where org_id = o.org_id and id = o.id
  returning * into o;
  return o;
end
$$;
comment on function app.cancel_open_order(app.orders) is 'Cancels an open order whose invoice, if any, is void, and releases its reserved stock; a cancelled order stays as it is.';
grant execute on function app.cancel_open_order(app.orders) to favcrm_member;

create function api.cancel_order(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
begin
  perform app.require_commerce_manager('cancel orders');
  perform auth.require_confirmation('cancel_order');
  return app.order_json(app.cancel_open_order(app.order_for_update((p ->> 'orderId')::uuid)));
end
$$;
comment on function api.cancel_order(jsonb) is 'Cancels an open order whose invoice, if any, is void, and puts its reserved stock back. Cancelling twice changes nothing.';
grant execute on function api.cancel_order(jsonb) to favcrm_member;
