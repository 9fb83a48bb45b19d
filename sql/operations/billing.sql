-- Billing: tax rates, invoices (draft → open → paid | void | uncollectible) with gapless
-- numbers, payments, refunds and credit notes. Managers and above bill and record payments;
-- owners and admins void, refund and credit; staff read the billing of their own bookings only
-- when the organisation allows it (the policies on the billing tables).
--
-- The rounding rule, once: each line is priced on its own, in integer minor units of the
-- invoice's currency, and every division rounds half away from zero (PostgreSQL's round() of a
-- numeric; no floating point anywhere):
--   gross    = quantity × unit amount
--   discount = the amount given, or round(gross × discount bp / 10000)
--   amount   = gross − discount
--   tax      = round(amount × rate bp / 10000)            exclusive rate: added on top
--            = round(amount × rate bp / (10000 + rate bp)) inclusive rate: taken out of amount
--   total    = amount + tax (exclusive), amount (inclusive), amount (no rate)
-- An invoice's figures are the sums of its lines' (tax per rate too), so they always add up:
-- total = total excluding tax + tax, and subtotal − discount = Σ amount.

-- ---------------------------------------------------------------------------------------
-- Money helpers
-- ---------------------------------------------------------------------------------------
-- ISO 4217: the currencies in use and their minor-unit exponents (JPY 0, USD 2, KWD 3).
create function app.currency_exponent(p_code text) returns int
language sql immutable parallel safe as $$
  select case
    when p_code in ('BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI', 'VND', 'VUV',
                    'XAF', 'XOF', 'XPF') then 0
    when p_code in ('BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND') then 3
    when p_code in ('CLF', 'UYW') then 4
    when p_code in ('AED', 'AFN', 'ALL', 'AMD', 'ANG', 'AOA', 'ARS', 'AUD', 'AWG', 'AZN', 'BAM', 'BBD', 'BDT', 'BGN',
                    'BMD', 'BND', 'BOB', 'BRL', 'BSD', 'BTN', 'BWP', 'BYN', 'BZD', 'CAD', 'CDF', 'CHF', 'CNY', 'COP',
                    'CRC', 'CUP', 'CVE', 'CZK', 'DKK', 'DOP', 'DZD', 'EGP', 'ERN', 'ETB', 'EUR', 'FJD', 'FKP', 'GBP',
                    'GEL', 'GHS', 'GIP', 'GMD', 'GTQ', 'GYD', 'HKD', 'HNL', 'HTG', 'HUF', 'IDR', 'ILS', 'INR', 'IRR',
                    'JMD', 'KES', 'KGS', 'KHR', 'KPW', 'KYD', 'KZT', 'LAK', 'LBP', 'LKR', 'LRD', 'LSL', 'MAD', 'MDL',
                    'MGA', 'MKD', 'MMK', 'MNT', 'MOP', 'MRU', 'MUR', 'MVR', 'MWK', 'MXN', 'MYR', 'MZN', 'NAD', 'NGN',
                    'NIO', 'NOK', 'NPR', 'NZD', 'PAB', 'PEN', 'PGK', 'PHP', 'PKR', 'PLN', 'QAR', 'RON', 'RSD', 'RUB',
                    'SAR', 'SBD', 'SCR', 'SDG', 'SEK', 'SGD', 'SHP', 'SLE', 'SOS', 'SRD', 'SSP', 'STN', 'SVC', 'SYP',
                    'SZL', 'THB', 'TJS', 'TMT', 'TOP', 'TRY', 'TTD', 'TWD', 'TZS', 'UAH', 'USD', 'UYU', 'UZS', 'VES',
                    'WST', 'XCD', 'XCG', 'YER', 'ZAR', 'ZMW', 'ZWG') then 2
  end
$$;
comment on function app.currency_exponent(text) is 'The number of minor-unit digits of an ISO 4217 currency (JPY 0, USD 2, KWD 3), or NULL for a code that is not a currency in use.';
grant execute on function app.currency_exponent(text) to favcrm_member;

create function app.require_currency(p_code text, p_field text) returns text
language plpgsql immutable set search_path = '' as $$
declare
  v_code text := pg_catalog.upper(p_code);
begin
  if app.currency_exponent(v_code) is null then
    perform app.raise_invalid(p_field, 'unknown_currency',
      pg_catalog.format('%s is not an ISO 4217 currency code in use (for example EUR, JPY or KWD).', p_code));
  end if;
  return v_code;
end
$$;
comment on function app.require_currency(text, text) is 'The upper-cased currency code, or raises 422 unknown_currency naming the field.';
grant execute on function app.require_currency(text, text) to favcrm_member;

-- Division rounded half away from zero: the one rounding rule of billing.
create function app.div_round(p_numerator numeric, p_denominator numeric) returns bigint
language sql immutable parallel safe as $$
  select pg_catalog.round(p_numerator / p_denominator)::bigint
$$;
comment on function app.div_round(numeric, numeric) is 'numerator ÷ denominator rounded half away from zero to a whole number of minor units.';
grant execute on function app.div_round(numeric, numeric) to favcrm_member;

-- A line's figures by the rule at the top of this file.
create function app.price_line(p_quantity int, p_unit bigint, p_discount_bp int, p_discount bigint, p_tax_bp int,
                               p_inclusive boolean, out discount_amount bigint, out amount bigint,
                               out tax_amount bigint, out total_amount bigint)
language plpgsql immutable set search_path = '' as $$
declare
  v_gross numeric := p_quantity::numeric * p_unit;
begin
  discount_amount := coalesce(p_discount, app.div_round(v_gross * coalesce(p_discount_bp, 0), 10000));
  if discount_amount > v_gross then
    perform app.raise_invalid('discountAmount', 'discount_exceeds_line',
      pg_catalog.format('The discount (%s) is more than the line (%s × %s).', discount_amount, p_quantity, p_unit));
  end if;
  amount := v_gross - discount_amount;
  if p_tax_bp is null then
    tax_amount := 0;
    total_amount := amount;
  elsif p_inclusive then
    tax_amount := app.div_round(amount::numeric * p_tax_bp, 10000 + p_tax_bp);
    total_amount := amount;
  else
    tax_amount := app.div_round(amount::numeric * p_tax_bp, 10000);
    total_amount := amount + tax_amount;
  end if;
end
$$;
comment on function app.price_line(int, bigint, int, bigint, int, boolean) is 'Prices one invoice line: discount, amount after discount, tax (added on top for an exclusive rate, taken out for an inclusive one) and total, each rounded half away from zero.';
grant execute on function app.price_line(int, bigint, int, bigint, int, boolean) to favcrm_member;


-- ---------------------------------------------------------------------------------------
-- Who may do what
-- ---------------------------------------------------------------------------------------
-- Staff hold billing:read by role, but read billing only where the organisation allows it (and
-- then, through the policies, only their own bookings').
create function app.require_billing_read() returns void
language plpgsql stable set search_path = '' as $$
begin
  perform auth.require_scope('billing:read');
  if auth.role() = 'staff' and not auth.staff_billing_access() then
    raise exception using errcode = '42501', hint = 'staff_billing_access_off',
      message = 'This organisation does not let staff see billing (an owner or admin can turn on staffBillingAccess with update_organisation).';
  end if;
end
$$;
comment on function app.require_billing_read() is 'Raises 42501 unless the caller holds billing:read and, for staff, the organisation lets staff see billing.';
grant execute on function app.require_billing_read() to favcrm_member;

create function app.require_billing_role(p_role text, p_action text) returns void
language plpgsql stable set search_path = '' as $$
begin
  perform auth.require_scope('billing:write');
  if auth.role_rank(auth.role()) < auth.role_rank(p_role) then
    raise exception using errcode = '42501', hint = 'forbidden',
      message = pg_catalog.format('Only %s can %s.',
                                  case p_role when 'manager' then 'managers, admins and owners'
                                              when 'admin' then 'admins and owners' else 'owners' end, p_action);
  end if;
end
$$;
comment on function app.require_billing_role(text, text) is 'Raises 42501 unless the caller holds billing:write and at least the role (manager: bill and record; admin: void, refund, credit).';
grant execute on function app.require_billing_role(text, text) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- How billing looks to clients
-- ---------------------------------------------------------------------------------------
create function app.tax_rate_json(t app.tax_rates) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', t.id,
    'name', t.name,
    'percentageBp', t.percentage_bp,
    'inclusive', t.inclusive,
    'active', t.active,
    'createdAt', app.ts(t.created_at),
    'updatedAt', app.ts(t.updated_at))
$$;
comment on function app.tax_rate_json(app.tax_rates) is 'The API representation of a tax rate.';
grant execute on function app.tax_rate_json(app.tax_rates) to favcrm_member;


create function app.invoice_line_json(l app.invoice_lines, p_currency text) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', l.id,
    'kind', l.kind,
    'serviceId', l.service_id,
    'productId', l.product_id,
    'bookingId', l.booking_id,
    'description', l.description,
    'quantity', l.quantity,
    'unitAmount', app.money(l.unit_amount, p_currency),
    'discountPercentBp', l.discount_bp,
    'discount', app.money(l.discount_amount, p_currency),
    'amount', app.money(l.amount, p_currency),
    'tax', case when l.tax_rate_id is null then null
                else pg_catalog.jsonb_build_object('taxRateId', l.tax_rate_id, 'name', l.tax_name,
                                                   'percentageBp', l.tax_bp, 'inclusive', l.tax_inclusive) end,
    'taxAmount', app.money(l.tax_amount, p_currency),
    'totalExcludingTax', app.money(l.total_amount - l.tax_amount, p_currency),
    'total', app.money(l.total_amount, p_currency))
$$;
comment on function app.invoice_line_json(app.invoice_lines, text) is 'The API representation of an invoice line, its amounts in the invoice''s currency.';
grant execute on function app.invoice_line_json(app.invoice_lines, text) to favcrm_member;

create function app.invoice_amount_due(i app.invoices) returns bigint
language sql immutable parallel safe as $$
  select case when i.status in ('draft', 'open', 'uncollectible')
              then i.total_amount - i.amount_credited - i.amount_paid + i.amount_credited_to_balance
              else 0 end
$$;
comment on function app.invoice_amount_due(app.invoices) is 'What the customer still owes: total − credited − paid (net of refunds) + what credit notes moved to the credit balance; 0 once paid or void.';
grant execute on function app.invoice_amount_due(app.invoices) to favcrm_member;

-- Money as json (app.money builds jsonb): what the invoice summary is built of, and inlined there.
create function app.money_json(p_amount bigint, p_currency text) returns json
language sql stable parallel safe as $$
  select pg_catalog.json_build_object('amount', p_amount, 'currency', p_currency)
$$;
comment on function app.money_json(bigint, text) is 'Money as json {amount, currency}, for pages built as json.';
grant execute on function app.money_json(bigint, text) to favcrm_member;

-- The fields an invoice shows in lists too; app.invoice_json adds lines, payments and credit
-- notes. json, built in one pass and inlined into the list's query (a page of 25 as jsonb with
-- the tax breakdown rebuilt per invoice served 966 pages/s; see loadtest/README.md). The tax
-- breakdown is stored in this shape by app.total_invoice.
create function app.invoice_summary_json(i app.invoices, p_today date) returns json
language sql stable parallel safe as $$
  select pg_catalog.json_build_object(
    'id', i.id,
    'number', i.number,
    'series', i.series,
    'status', i.status,
    'customerId', i.customer_id,
    'currency', i.currency,
    'memo', i.memo,
    'dueDate', i.due_date,
    'paymentTermsDays', i.payment_terms_days,
    'overdue', i.status = 'open' and i.due_date < p_today,
    'subtotal', app.money_json(i.subtotal_amount, i.currency),
    'discount', app.money_json(i.discount_amount, i.currency),
    'totalExcludingTax', app.money_json(i.total_amount - i.tax_amount, i.currency),
    'tax', app.money_json(i.tax_amount, i.currency),
    'taxes', i.taxes,
    'total', app.money_json(i.total_amount, i.currency),
    'amountPaid', app.money_json(i.amount_paid, i.currency),
    'amountCredited', app.money_json(i.amount_credited, i.currency),
    'amountDue', app.money_json(app.invoice_amount_due(i), i.currency),
    'finalizedAt', app.ts(i.finalized_at),
    'paidAt', app.ts(i.paid_at),
    'voidedAt', app.ts(i.voided_at),
    'markedUncollectibleAt', app.ts(i.uncollectible_at),
    'createdAt', app.ts(i.created_at),
    'updatedAt', app.ts(i.updated_at))
$$;
comment on function app.invoice_summary_json(app.invoices, date) is 'An invoice as lists show it: number, status, customer, dates and every total (no lines); overdue as of the given date.';
grant execute on function app.invoice_summary_json(app.invoices, date) to favcrm_member;

-- Today in the organisation's time zone: what due dates and "overdue" are measured against.
create function app.billing_today() returns date
language sql stable parallel safe as $$
  select (pg_catalog.now() at time zone o.timezone)::date from app.organisations o where o.id = auth.org_id()
$$;
comment on function app.billing_today() is 'Today''s date in the caller''s organisation''s time zone.';
grant execute on function app.billing_today() to favcrm_member;

create function app.payment_json(pm app.payments) returns jsonb
language plpgsql stable set search_path = '' as $$
begin
  return pg_catalog.jsonb_build_object(
    'id', pm.id,
    'invoiceId', pm.invoice_id,
    'customerId', pm.customer_id,
    'method', pm.method,
    'amount', app.money(pm.amount, pm.currency),
    'amountRefunded', app.money(pm.amount_refunded, pm.currency),
    'receivedOn', pm.received_on,
    'reference', pm.reference,
    'refunds', (select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                      'id', r.id, 'amount', app.money(r.amount, r.currency), 'reason', r.reason,
                      'status', r.status, 'failureReason', r.failure_reason, 'providerRefundId', r.provider_refund_id,
                      'creditNoteId', r.credit_note_id, 'createdAt', app.ts(r.created_at))
                      order by r.created_at, r.id), '[]')
                  from app.refunds r where r.org_id = pm.org_id and r.payment_id = pm.id),
    'createdAt', app.ts(pm.created_at));
end
$$;
comment on function app.payment_json(app.payments) is 'The API representation of a payment, with its refunds.';
grant execute on function app.payment_json(app.payments) to favcrm_member;

create function app.credit_note_json(cn app.credit_notes) returns jsonb
language plpgsql stable set search_path = '' as $$
begin
  return pg_catalog.jsonb_build_object(
    'id', cn.id,
    'number', cn.number,
    'invoiceId', cn.invoice_id,
    'customerId', cn.customer_id,
    'reason', cn.reason,
    'memo', cn.memo,
    'amount', app.money(cn.amount, cn.currency),
    'tax', app.money(cn.tax_amount, cn.currency),
    'appliedToAmountDue', app.money(cn.applied_amount, cn.currency),
    'refunded', app.money(cn.refund_amount, cn.currency),
    'creditedToBalance', app.money(cn.balance_amount, cn.currency),
    'lines', (select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                    'invoiceLineId', l.invoice_line_id, 'description', l.description,
                    'amount', app.money(l.amount, cn.currency), 'tax', app.money(l.tax_amount, cn.currency))
                    order by l.position), '[]')
                from app.credit_note_lines l where l.org_id = cn.org_id and l.credit_note_id = cn.id),
    'createdAt', app.ts(cn.created_at));
end
$$;
comment on function app.credit_note_json(app.credit_notes) is 'The API representation of a credit note: its amount and tax, where the amount went (off the amount due, refunded, to the credit balance) and its lines.';
grant execute on function app.credit_note_json(app.credit_notes) to favcrm_member;

create function app.invoice_json(i app.invoices) returns jsonb
language plpgsql stable set search_path = '' as $$
begin
  return app.invoice_summary_json(i, app.billing_today())::jsonb || pg_catalog.jsonb_build_object(
    'lines', (select coalesce(pg_catalog.jsonb_agg(app.invoice_line_json(l, i.currency) order by l.position), '[]')
                from app.invoice_lines l where l.org_id = i.org_id and l.invoice_id = i.id),
    'payments', (select coalesce(pg_catalog.jsonb_agg(app.payment_json(pm) order by pm.id), '[]')
                   from app.payments pm where pm.org_id = i.org_id and pm.invoice_id = i.id),
    'creditNotes', (select coalesce(pg_catalog.jsonb_agg(app.credit_note_json(cn) order by cn.year, cn.sequence), '[]')
                      from app.credit_notes cn where cn.org_id = i.org_id and cn.invoice_id = i.id));
end
$$;
comment on function app.invoice_json(app.invoices) is 'The API representation of an invoice: its summary with lines, payments (and their refunds) and credit notes.';
grant execute on function app.invoice_json(app.invoices) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Tax rates (products are commerce's: operations/commerce.sql)
-- ---------------------------------------------------------------------------------------
create function api.create_tax_rate(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  t app.tax_rates;
begin
  perform app.require_billing_role('manager', 'add tax rates');
  insert into app.tax_rates (org_id, name, percentage_bp, inclusive, active)
  values (auth.org_id(), pg_catalog.btrim(p ->> 'name'), (p ->> 'percentageBp')::int,
          coalesce((p ->> 'inclusive')::boolean, false), coalesce((p ->> 'active')::boolean, true))
  returning * into t;
  return app.tax_rate_json(t);
end
$$;
comment on function api.create_tax_rate(jsonb) is 'Adds a tax rate (percentage in basis points, inclusive or exclusive).';
grant execute on function api.create_tax_rate(jsonb) to favcrm_member;

create function api.update_tax_rate(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  t app.tax_rates;
begin
  perform app.require_billing_role('manager', 'change tax rates');
  select * into t from app.tax_rates where org_id = auth.org_id() and id = (p ->> 'taxRateId')::uuid for update;
  if not found then
    perform app.not_found('tax rate');
  end if;
  if (p ? 'name' and pg_catalog.btrim(p ->> 'name') is distinct from t.name)
     or (p ? 'active' and (p ->> 'active')::boolean is distinct from t.active) then
    update app.tax_rates
       set name = coalesce(pg_catalog.btrim(p ->> 'name'), name), active = coalesce((p ->> 'active')::boolean, active),
           updated_at = pg_catalog.now()
     where org_id = t.org_id and id = t.id
     returning * into t;
  end if;
  return app.tax_rate_json(t);
end
$$;
comment on function api.update_tax_rate(jsonb) is 'Renames a tax rate or switches it on or off; its percentage and inclusiveness never change.';
grant execute on function api.update_tax_rate(jsonb) to favcrm_member;

create function api.list_tax_rates(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
begin
  perform auth.require_scope('billing:read');
  return pg_catalog.jsonb_build_object('items', (
    select coalesce(pg_catalog.jsonb_agg(app.tax_rate_json(t) order by t.active desc, t.name, t.id), '[]')
      from app.tax_rates t
     where t.org_id = auth.org_id() and (t.active or coalesce((p ->> 'includeInactive')::boolean, false))));
end
$$;
comment on function api.list_tax_rates(jsonb) is 'The organisation''s tax rates (active ones unless includeInactive), by name.';
grant execute on function api.list_tax_rates(jsonb) to favcrm_member;

create function app.usable_tax_rate(p_id uuid, p_field text) returns app.tax_rates
language plpgsql stable set search_path = '' as $$
declare
  t app.tax_rates;
begin
  select * into t from app.tax_rates where org_id = auth.org_id() and id = p_id;
  if not found then
    perform app.not_found('tax rate', p_field);
  end if;
  if not t.active then
    perform app.raise_invalid(p_field, 'tax_rate_inactive',
      pg_catalog.format('The tax rate %s is switched off; switch it on with update_tax_rate or choose another.', t.name));
  end if;
  return t;
end
$$;
comment on function app.usable_tax_rate(uuid, text) is 'The active tax rate with this id, or raises 404 not_found / 422 tax_rate_inactive naming the field.';
grant execute on function app.usable_tax_rate(uuid, text) to favcrm_member;


-- ---------------------------------------------------------------------------------------
-- Invoices
-- ---------------------------------------------------------------------------------------
create function app.invoice_for_update(p_id uuid) returns app.invoices
language plpgsql set search_path = '' as $$
declare
  i app.invoices;
begin
  select * into i from app.invoices where org_id = auth.org_id() and id = p_id for update;
  if not found then
    perform app.not_found('invoice');
  end if;
  return i;
end
$$;
comment on function app.invoice_for_update(uuid) is 'The invoice with this id, locked FOR UPDATE, or raises not_found.';
grant execute on function app.invoice_for_update(uuid) to favcrm_member;

create function app.require_draft(i app.invoices) returns void
language plpgsql stable set search_path = '' as $$
begin
  if i.status <> 'draft' then
    raise exception using errcode = '55000', hint = 'invoice_not_draft',
      message = pg_catalog.format('Invoice %s is %s: only a draft can change. Correct a finalised invoice with a credit note.',
                                  coalesce(i.number, i.id::text), i.status);
  end if;
end
$$;
comment on function app.require_draft(app.invoices) is 'Raises 409 invoice_not_draft unless the invoice is a draft.';
grant execute on function app.require_draft(app.invoices) to favcrm_member;

-- Sums the lines into the invoice's totals and tax per rate (drafts only: finalised totals are frozen).
create function app.total_invoice(i app.invoices) returns app.invoices
language plpgsql set search_path = '' as $$
begin
  update app.invoices v set
    subtotal_amount = t.subtotal, discount_amount = t.discount, tax_amount = t.tax, total_amount = t.total,
    taxes = t.taxes, updated_at = pg_catalog.now()
    from (select coalesce(sum(l.quantity::bigint * l.unit_amount), 0)::bigint subtotal,
                 coalesce(sum(l.discount_amount), 0)::bigint discount,
                 coalesce(sum(l.tax_amount), 0)::bigint tax,
                 coalesce(sum(l.total_amount), 0)::bigint total,
                 (select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                           'taxRateId', r.tax_rate_id, 'name', r.tax_name, 'percentageBp', r.tax_bp,
                           'inclusive', r.tax_inclusive, 'taxableAmount', app.money(r.taxable, i.currency),
                           'amount', app.money(r.tax, i.currency))
                           order by r.tax_bp desc, r.tax_name, r.tax_rate_id), '[]')
                    from (select l2.tax_rate_id, l2.tax_name, l2.tax_bp, l2.tax_inclusive,
                                 sum(l2.total_amount - l2.tax_amount)::bigint taxable, sum(l2.tax_amount)::bigint tax
                            from app.invoice_lines l2
                           where l2.org_id = i.org_id and l2.invoice_id = i.id and l2.tax_rate_id is not null
                           group by 1, 2, 3, 4) r) taxes
            from app.invoice_lines l where l.org_id = i.org_id and l.invoice_id = i.id) t
   where v.org_id = i.org_id and v.id = i.id
  returning v.* into i;
  return i;
end
$$;
comment on function app.total_invoice(app.invoices) is 'Recomputes a draft invoice''s subtotal, discount, tax per rate and total from its lines.';
grant execute on function app.total_invoice(app.invoices) to favcrm_member;

-- Adds one line (its input as add_invoice_line takes it) to a draft invoice, priced by the rule.
create function app.add_line(i app.invoices, p jsonb, p_field text) returns void
language plpgsql set search_path = '' as $$
declare
  l app.invoice_lines;
  s app.services;
  pr app.products;
  b app.bookings;
  t app.tax_rates;
  v_currency text;
  v_tax uuid;
  v_priced record;
  v_tz text;
begin
  if (select pg_catalog.count(*) from app.invoice_lines x where x.org_id = i.org_id and x.invoice_id = i.id) >= 250 then
    perform app.raise_invalid(p_field, 'too_many_lines', 'An invoice holds at most 250 lines.');
  end if;
  if (p ? 'discountPercentBp') and (p ? 'discountAmount') then
    perform app.raise_invalid(p_field || 'discountAmount', 'one_discount',
      'Give discountPercentBp or discountAmount, not both.');
  end if;
  l.org_id := i.org_id;
  l.invoice_id := i.id;
  l.staff_user_id := i.staff_user_id;
  l.quantity := coalesce((p ->> 'quantity')::int, 1);
  if p ->> 'bookingId' is not null then
    select * into b from app.bookings where org_id = i.org_id and id = (p ->> 'bookingId')::uuid for update;
    if not found then
      perform app.not_found('booking', p_field || 'bookingId');
    end if;
    if b.customer_id <> i.customer_id then
      perform app.raise_invalid(p_field || 'bookingId', 'booking_customer_mismatch',
        'The booking is another customer''s: an invoice bills one customer.');
    end if;
    if b.invoice_id is not null and b.invoice_id <> i.id
       and exists (select from app.invoices x where x.org_id = b.org_id and x.id = b.invoice_id and x.status <> 'void') then
      raise exception using errcode = '23505', hint = 'booking_already_invoiced', column = p_field || 'bookingId',
        message = 'The booking is already on another invoice; void that invoice first to bill it again.',
        detail = pg_catalog.jsonb_build_object('invoiceId', b.invoice_id)::text;
    end if;
    if b.credit_grant_id is not null and not coalesce((p ->> 'fee')::boolean, false) then
      perform app.raise_invalid(p_field || 'bookingId', 'booking_paid_with_credits',
        'The booking was paid with a credit: only its fee, if it has one, can be billed.');
    end if;
    select * into s from app.services where org_id = b.org_id and id = b.service_id;
    select o.timezone into v_tz from app.organisations o where o.id = i.org_id;
    l.kind := 'booking';
    l.booking_id := b.id;
    l.service_id := b.service_id;
    l.staff_user_id := coalesce(i.staff_user_id, b.staff_user_id);
    l.description := coalesce(pg_catalog.btrim(p ->> 'description'),
                              s.name || ', ' || pg_catalog.to_char(b.starts_at at time zone v_tz, 'YYYY-MM-DD HH24:MI'));
    l.unit_amount := coalesce((p ->> 'unitAmount')::bigint, b.price_amount);
    if coalesce((p ->> 'fee')::boolean, false) then
      if coalesce(b.fee_amount, 0) = 0 then
        perform app.raise_invalid(p_field || 'bookingId', 'no_fee',
          pg_catalog.format('The booking (%s) has no late-cancellation or no-show fee to bill.', b.status));
      end if;
      l.kind := 'fee';
      l.description := coalesce(pg_catalog.btrim(p ->> 'description'),
                                case when b.status = 'no_show' then 'No-show fee: ' else 'Late cancellation fee: ' end
                                || s.name || ', ' || pg_catalog.to_char(b.starts_at at time zone v_tz, 'YYYY-MM-DD HH24:MI'));
      l.unit_amount := coalesce((p ->> 'unitAmount')::bigint, b.fee_amount);
    end if;
    v_currency := b.currency;
    v_tax := s.tax_rate_id;
    update app.bookings set invoice_id = i.id, updated_at = pg_catalog.now()
     where org_id = b.org_id and id = b.id and invoice_id is distinct from i.id;
  elsif p ->> 'serviceId' is not null then
    select * into s from app.services where org_id = i.org_id and id = (p ->> 'serviceId')::uuid;
    if not found then
      perform app.not_found('service', p_field || 'serviceId');
    end if;
    l.kind := 'service';
    l.service_id := s.id;
    l.description := coalesce(pg_catalog.btrim(p ->> 'description'), s.name);
    l.unit_amount := coalesce((p ->> 'unitAmount')::bigint, s.price_amount);
    v_currency := s.currency;
    v_tax := s.tax_rate_id;
  elsif p ->> 'productId' is not null then
    select * into pr from app.products where org_id = i.org_id and id = (p ->> 'productId')::uuid;
    if not found then
      perform app.not_found('product', p_field || 'productId');
    end if;
    l.kind := 'product';
    l.product_id := pr.id;
    l.description := coalesce(pg_catalog.btrim(p ->> 'description'), pr.name);
    l.unit_amount := coalesce((p ->> 'unitAmount')::bigint, pr.price_amount);
    v_currency := pr.currency;
    v_tax := pr.tax_rate_id;
  else
    l.kind := 'custom';
    l.description := pg_catalog.btrim(p ->> 'description');
    l.unit_amount := (p ->> 'unitAmount')::bigint;
    if l.description is null then
      perform app.raise_invalid(p_field || 'description', 'required',
        'A line names a serviceId, productId or bookingId, or has a description and a unitAmount.');
    end if;
    if l.unit_amount is null then
      perform app.raise_invalid(p_field || 'unitAmount', 'required', 'A custom line needs a unitAmount.');
    end if;
  end if;
  -- A price in another currency cannot be taken over as it is.
  if v_currency is not null and v_currency <> i.currency and not (p ? 'unitAmount') then
    perform app.raise_invalid(p_field || 'unitAmount', 'currency_mismatch',
      pg_catalog.format('The price is in %s and the invoice in %s: give unitAmount in %s.', v_currency, i.currency, i.currency));
  end if;
  if p ? 'taxRateId' then
    v_tax := (p ->> 'taxRateId')::uuid;
  end if;
  if v_tax is not null then
    t := app.usable_tax_rate(v_tax, p_field || 'taxRateId');
    l.tax_rate_id := t.id;
    l.tax_name := t.name;
    l.tax_bp := t.percentage_bp;
    l.tax_inclusive := t.inclusive;
  end if;
  l.discount_bp := (p ->> 'discountPercentBp')::int;
  -- A member's plan or loyalty tier may take a percentage off services (a booking's price, a
  -- service line): the larger of the two.
  if l.kind in ('booking', 'service') and not (p ? 'discountPercentBp') and not (p ? 'discountAmount') then
    l.discount_bp := nullif(greatest(app.member_service_discount_bp(i.customer_id),
                                     app.loyalty_tier_discount_bp(i.customer_id)), 0);
  end if;
  begin
    v_priced := app.price_line(l.quantity, l.unit_amount, l.discount_bp, (p ->> 'discountAmount')::bigint, l.tax_bp,
                               l.tax_inclusive);
  exception when invalid_parameter_value then
    perform app.raise_invalid(p_field || 'discountAmount', 'discount_exceeds_line',
      'The discount is more than the line''s quantity × unit amount.');
  end;
  l.discount_amount := v_priced.discount_amount;
  l.amount := v_priced.amount;
  l.tax_amount := v_priced.tax_amount;
  l.total_amount := v_priced.total_amount;
  l.id := app.uuid_v7();
  l.position := (select coalesce(max(x.position), 0) + 1 from app.invoice_lines x
                  where x.org_id = i.org_id and x.invoice_id = i.id);
  l.created_at := pg_catalog.now();
  insert into app.invoice_lines select l.*;
  if i.staff_user_id is null and l.staff_user_id is not null then
    update app.invoices set staff_user_id = l.staff_user_id where org_id = i.org_id and id = i.id;
    update app.invoice_lines set staff_user_id = l.staff_user_id
     where org_id = i.org_id and invoice_id = i.id and staff_user_id is null;
  end if;
end
$$;
comment on function app.add_line(app.invoices, jsonb, text) is 'Adds a priced line to a draft invoice: from a booking (its price, or with fee its late-cancellation or no-show fee; the booking is linked to the invoice), a service, a product, or a custom description and amount; tax from the line, else the service''s or product''s default rate.';
grant execute on function app.add_line(app.invoices, jsonb, text) to favcrm_member;

create function api.create_invoice(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  i app.invoices;
  o app.organisations;
  v_line jsonb;
  v_n int := 0;
begin
  perform app.require_billing_role('manager', 'create invoices');
  select * into o from app.organisations where id = auth.org_id();
  perform app.require_live_customer((p ->> 'customerId')::uuid);
  if (p ? 'dueDate') and (p ? 'paymentTermsDays') then
    perform app.raise_invalid('dueDate', 'one_due_rule', 'Give dueDate or paymentTermsDays, not both.');
  end if;
  insert into app.invoices (org_id, customer_id, series, currency, memo, due_date, payment_terms_days, created_by)
  values (o.id, (p ->> 'customerId')::uuid, coalesce(pg_catalog.upper(p ->> 'series'), o.invoice_prefix),
          app.require_currency(coalesce(p ->> 'currency', o.default_currency), 'currency'), p ->> 'memo',
          (p ->> 'dueDate')::date, (p ->> 'paymentTermsDays')::int, auth.user_id())
  returning * into i;
  for v_line in select * from pg_catalog.jsonb_array_elements(coalesce(p -> 'lines', '[]')) loop
    perform app.add_line(i, v_line, pg_catalog.format('lines[%s].', v_n));
    v_n := v_n + 1;
  end loop;
  select * into i from app.invoices where org_id = i.org_id and id = i.id;
  i := app.total_invoice(i);
  return app.invoice_json(i);
end
$$;
comment on function api.create_invoice(jsonb) is 'Creates a draft invoice for a customer, with lines if given (each from a booking, service, product or a description and amount).';
grant execute on function api.create_invoice(jsonb) to favcrm_member;

create function api.get_invoice(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  i app.invoices;
begin
  perform app.require_billing_read();
  select * into i from app.invoices where org_id = auth.org_id() and id = (p ->> 'invoiceId')::uuid;
  if not found then
    perform app.not_found('invoice');
  end if;
  return app.invoice_json(i);
end
$$;
comment on function api.get_invoice(jsonb) is 'Returns one invoice with its lines, totals, payments and credit notes.';
grant execute on function api.get_invoice(jsonb) to favcrm_member;

-- As api.list_customers: the first page of everything is one static statement under a cached
-- plan; filters go through EXECUTE, planned for the values given (an absent filter drops out).
-- "Issued" is the finalisation time (a draft's creation) within the dates, in the organisation's
-- time zone, compared as instants so that a range is a range.
create function api.list_invoices(p jsonb) returns json
language plpgsql stable set search_path = '' set plan_cache_mode = force_generic_plan as $$
declare
  v_org uuid := auth.org_id();
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
  v_today date := app.billing_today();
  v_tz text := (select o.timezone from app.organisations o where o.id = v_org);
  v_status text := p ->> 'status';
  v_customer uuid := (p ->> 'customerId')::uuid;
  v_overdue boolean := coalesce((p ->> 'overdue')::boolean, false);
  v_due_before date := (p ->> 'dueBefore')::date;
  v_from date := (p ->> 'from')::date;
  v_to date := (p ->> 'to')::date;
  v_page json;
begin
  perform app.require_billing_read();
  if v_from is not null and v_to is not null and v_to < v_from then
    perform app.raise_invalid('to', 'range_end_before_start', 'to is before from.');
  end if;
  if v_status is null and v_customer is null and not v_overdue and v_due_before is null and v_from is null
     and v_to is null then
    return (
      select app.page_json(pg_catalog.json_agg(app.invoice_summary_json(x.i, v_today) order by x.n)
                             filter (where x.n <= v_limit),
                           (pg_catalog.array_agg(x.id) filter (where x.n = v_limit))[1],
                           pg_catalog.count(*) > v_limit)
        from (select i.id, i, pg_catalog.row_number() over (order by i.id desc) n
                from app.invoices i
               where i.org_id = v_org
                 and i.id < coalesce(v_after, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
               order by i.id desc
               limit v_limit + 1) x);
  end if;
  execute $query$
    select app.page_json(pg_catalog.json_agg(app.invoice_summary_json(x.i, $11) order by x.n)
                           filter (where x.n <= $2),
                         (pg_catalog.array_agg(x.id) filter (where x.n = $2))[1],
                         pg_catalog.count(*) > $2)
      from (select i.id, i, pg_catalog.row_number() over (order by i.id desc) n
              from app.invoices i
             where i.org_id = $1
               and ($3::uuid is null or i.id < $3)
               and ($4::text is null or i.status = $4)
               and ($5::uuid is null or i.customer_id = $5)
               and (not $6 or (i.status = 'open' and i.due_date < $11))
               and ($7::date is null or i.due_date < $7)
               and ($8::date is null or coalesce(i.finalized_at, i.created_at) >= ($8::timestamp at time zone $10))
               and ($9::date is null
                    or coalesce(i.finalized_at, i.created_at) < (($9 + 1)::timestamp at time zone $10))
             order by i.id desc
             limit $2 + 1) x
  $query$ into v_page
    using v_org, v_limit, v_after, v_status, v_customer, v_overdue, v_due_before, v_from, v_to, v_tz, v_today;
  return v_page;
end
$$;
comment on function api.list_invoices(jsonb) is 'Invoices, newest first, by status, customer, overdue, due before a date, or issued (finalised; drafts: created) within a range of dates in the organisation''s time zone.';
grant execute on function api.list_invoices(jsonb) to favcrm_member;

create function api.update_invoice(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  i app.invoices;
  n app.invoices;
begin
  perform app.require_billing_role('manager', 'change invoices');
  i := app.invoice_for_update((p ->> 'invoiceId')::uuid);
  n := i;
  if p ? 'memo' then n.memo := p ->> 'memo'; end if;
  if p ? 'series' then n.series := pg_catalog.upper(p ->> 'series'); end if;
  if p ? 'dueDate' then
    n.due_date := (p ->> 'dueDate')::date;
    if n.due_date is not null then n.payment_terms_days := null; end if;
  end if;
  if p ? 'paymentTermsDays' then
    n.payment_terms_days := (p ->> 'paymentTermsDays')::int;
    if n.payment_terms_days is not null then n.due_date := null; end if;
  end if;
  if (p ? 'dueDate') and (p ? 'paymentTermsDays') and p ->> 'dueDate' is not null and p ->> 'paymentTermsDays' is not null then
    perform app.raise_invalid('dueDate', 'one_due_rule', 'Give dueDate or paymentTermsDays, not both.');
  end if;
  if p ? 'currency' then
    n.currency := app.require_currency(p ->> 'currency', 'currency');
    if n.currency <> i.currency
       and exists (select from app.invoice_lines l where l.org_id = i.org_id and l.invoice_id = i.id) then
      perform app.raise_invalid('currency', 'invoice_has_lines',
        'The currency of an invoice with lines cannot change: remove the lines first.');
    end if;
  end if;
  if n is not distinct from i then
    return app.invoice_json(i);
  end if;
  perform app.require_draft(i);
  update app.invoices set memo = n.memo, series = n.series, due_date = n.due_date,
                          payment_terms_days = n.payment_terms_days, currency = n.currency, updated_at = pg_catalog.now()
   where org_id = i.org_id and id = i.id
  returning * into i;
  return app.invoice_json(i);
end
$$;
comment on function api.update_invoice(jsonb) is 'Changes a draft invoice''s memo, series, currency (while it has no lines), due date or payment terms. Asking for what it already has changes nothing, whatever its status.';
grant execute on function api.update_invoice(jsonb) to favcrm_member;

create function api.add_invoice_line(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  i app.invoices;
begin
  perform app.require_billing_role('manager', 'change invoices');
  i := app.invoice_for_update((p ->> 'invoiceId')::uuid);
  perform app.require_draft(i);
  perform app.add_line(i, p - 'invoiceId', '');
  select * into i from app.invoices where org_id = i.org_id and id = i.id;
  return app.invoice_json(app.total_invoice(i));
end
$$;
comment on function api.add_invoice_line(jsonb) is 'Adds a line to a draft invoice and returns the invoice with its new totals.';
grant execute on function api.add_invoice_line(jsonb) to favcrm_member;

create function api.remove_invoice_line(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  i app.invoices;
  l app.invoice_lines;
begin
  perform app.require_billing_role('manager', 'change invoices');
  i := app.invoice_for_update((p ->> 'invoiceId')::uuid);
  select * into l from app.invoice_lines
   where org_id = i.org_id and invoice_id = i.id and id = (p ->> 'lineId')::uuid;
  if not found then
    perform app.not_found('line on this invoice');
  end if;
  perform app.require_draft(i);
  delete from app.invoice_lines where org_id = l.org_id and id = l.id;
  if l.booking_id is not null then
    update app.bookings set invoice_id = null, updated_at = pg_catalog.now()
     where org_id = l.org_id and id = l.booking_id and invoice_id = i.id
       and not exists (select from app.invoice_lines x
                        where x.org_id = l.org_id and x.invoice_id = i.id and x.booking_id = l.booking_id);
  end if;
  return app.invoice_json(app.total_invoice(i));
end
$$;
comment on function api.remove_invoice_line(jsonb) is 'Removes a line from a draft invoice (a booking line unlinks its booking) and returns the invoice with its new totals.';
grant execute on function api.remove_invoice_line(jsonb) to favcrm_member;

-- The next number of a series in a year. The counter row is locked by this update until the
-- calling transaction ends: concurrent finalisations queue on it, and a rollback returns the
-- number, so numbers have no gaps and no duplicates.
create function app.next_document_number(p_kind text, p_series text, p_year int) returns int
language sql volatile as $$
  insert into app.document_counters as c (org_id, kind, series, year, last_number)
  values (auth.org_id(), p_kind, p_series, p_year, 1)
  on conflict (org_id, kind, series, year) do update set last_number = c.last_number + 1
  returning c.last_number
$$;
comment on function app.next_document_number(text, text, int) is 'Hands out the next number of an organisation''s invoice or credit-note series for a year, holding the counter row locked until the transaction ends (gapless; never a sequence).';
grant execute on function app.next_document_number(text, text, int) to favcrm_member;

create function app.document_number(p_series text, p_year int, p_sequence int) returns text
language sql immutable parallel safe as $$
  select p_series || '-' || p_year || '-' || case when p_sequence < 10000 then pg_catalog.lpad(p_sequence::text, 4, '0')
                                                  else p_sequence::text end
$$;
comment on function app.document_number(text, int, int) is 'INV-2027-0001: series, year and number, zero-padded to four digits.';
grant execute on function app.document_number(text, int, int) to favcrm_member;

create function api.finalize_invoice(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  i app.invoices;
  v_local timestamp;
  v_terms int;
  v_seq int;
begin
  perform app.require_billing_role('manager', 'finalise invoices');
  i := app.invoice_for_update((p ->> 'invoiceId')::uuid);
  if i.finalized_at is not null then
    return app.invoice_json(i);
  end if;
  if i.status <> 'draft' then
    raise exception using errcode = '55000', hint = 'invoice_not_draft',
      message = 'A draft that was voided cannot be finalised: create a new invoice.';
  end if;
  if not exists (select from app.invoice_lines l where l.org_id = i.org_id and l.invoice_id = i.id) then
    raise exception using errcode = '55000', hint = 'invoice_empty',
      message = 'An invoice needs at least one line to be finalised.';
  end if;
  select pg_catalog.now() at time zone o.timezone, o.payment_terms_days into v_local, v_terms
    from app.organisations o where o.id = i.org_id;
  v_seq := app.next_document_number('invoice', i.series, extract(year from v_local)::int);
  update app.invoices set
    status = case when total_amount = 0 then 'paid' else 'open' end,
    year = extract(year from v_local)::int, sequence = v_seq,
    number = app.document_number(series, extract(year from v_local)::int, v_seq),
    due_date = coalesce(due_date, v_local::date + coalesce(payment_terms_days, v_terms)),
    finalized_at = pg_catalog.now(),
    paid_at = case when total_amount = 0 then pg_catalog.now() end,
    updated_at = pg_catalog.now()
   where org_id = i.org_id and id = i.id
  returning * into i;
  return app.invoice_json(i);
end
$$;
comment on function api.finalize_invoice(jsonb) is 'Finalises a draft: gives it the next number of its series for the year (gapless), fixes its due date and freezes it (open; paid at once if its total is zero). Finalising a finalised invoice changes nothing.';
grant execute on function api.finalize_invoice(jsonb) to favcrm_member;

create function api.void_invoice(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  i app.invoices;
begin
  perform app.require_billing_role('admin', 'void invoices');
  perform auth.require_confirmation('void_invoice');
  i := app.invoice_for_update((p ->> 'invoiceId')::uuid);
  if i.status = 'void' then
    return app.invoice_json(i);
  end if;
  if i.status = 'paid' or i.amount_paid > 0 then
    raise exception using errcode = '55000', hint = 'invoice_has_payments',
      message = 'An invoice with money paid against it cannot be voided: refund the payments or issue a credit note.';
  end if;
  update app.invoices set status = 'void', voided_at = pg_catalog.now(), updated_at = pg_catalog.now()
   where org_id = i.org_id and id = i.id
  returning * into i;
  -- Its bookings may be billed again; the packs it sold give no more credits.
  update app.bookings set invoice_id = null, updated_at = pg_catalog.now()
   where org_id = i.org_id and invoice_id = i.id;
  perform app.withdraw_invoice_credits(i.id);
  return app.invoice_json(i);
end
$$;
comment on function api.void_invoice(jsonb) is 'Voids a draft, open or uncollectible invoice with nothing paid: it keeps its number (no gap) but is owed no more, and its bookings may be billed again. Voiding twice changes nothing.';
grant execute on function api.void_invoice(jsonb) to favcrm_member;

create function api.mark_uncollectible(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  i app.invoices;
begin
  perform app.require_billing_role('manager', 'write invoices off');
  i := app.invoice_for_update((p ->> 'invoiceId')::uuid);
  if i.status = 'uncollectible' then
    return app.invoice_json(i);
  end if;
  if i.status <> 'open' then
    raise exception using errcode = '55000', hint = 'invalid_invoice_state',
      message = pg_catalog.format('A %s invoice cannot be marked uncollectible (only an open one).', i.status);
  end if;
  update app.invoices set status = 'uncollectible', uncollectible_at = pg_catalog.now(), updated_at = pg_catalog.now()
   where org_id = i.org_id and id = i.id
  returning * into i;
  return app.invoice_json(i);
end
$$;
comment on function api.mark_uncollectible(jsonb) is 'Writes an open invoice off as uncollectible (a payment recorded later still settles it). Marking twice changes nothing.';
grant execute on function api.mark_uncollectible(jsonb) to favcrm_member;

-- After money moved: paid once nothing is owed, open again when a refund reopens what is owed.
create function app.settle_invoice(p_id uuid, p_paid bigint, p_credited bigint, p_to_balance bigint) returns app.invoices
language plpgsql set search_path = '' as $$
declare
  i app.invoices;
begin
  update app.invoices v set
    amount_paid = v.amount_paid + p_paid,
    amount_credited = v.amount_credited + p_credited,
    amount_credited_to_balance = v.amount_credited_to_balance + p_to_balance,
    updated_at = pg_catalog.now()
   where v.org_id = auth.org_id() and v.id = p_id
  returning v.* into i;
  if i.status in ('open', 'uncollectible')
     and i.total_amount - i.amount_credited - i.amount_paid + i.amount_credited_to_balance = 0 then
    update app.invoices set status = 'paid', paid_at = pg_catalog.now()
     where org_id = i.org_id and id = i.id returning * into i;
  elsif i.status = 'paid' and i.total_amount - i.amount_credited - i.amount_paid + i.amount_credited_to_balance > 0 then
    update app.invoices set status = 'open', paid_at = null
     where org_id = i.org_id and id = i.id returning * into i;
  end if;
  return i;
end
$$;
comment on function app.settle_invoice(uuid, bigint, bigint, bigint) is 'Adds money moved to a locked invoice''s running sums and sets its status: paid when nothing is owed, open again when a refund reopens the amount due.';
grant execute on function app.settle_invoice(uuid, bigint, bigint, bigint) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- The customer's credit balance: the sum of its ledger, per currency
-- ---------------------------------------------------------------------------------------
create function app.customer_balance(p_customer uuid, p_currency text) returns bigint
language sql stable as $$
  select coalesce(sum(e.amount), 0)::bigint
    from app.customer_balance_entries e
   where e.org_id = auth.org_id() and e.customer_id = p_customer and e.currency = p_currency
$$;
comment on function app.customer_balance(uuid, text) is 'The customer''s credit balance in a currency: the sum of its ledger entries.';
grant execute on function app.customer_balance(uuid, text) to favcrm_member;

create function api.get_customer_balance(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_customer uuid := (p ->> 'customerId')::uuid;
begin
  perform app.require_billing_read();
  if not exists (select from app.customers c where c.org_id = auth.org_id() and c.id = v_customer) then
    perform app.not_found('customer');
  end if;
  return pg_catalog.jsonb_build_object(
    'customerId', v_customer,
    'balances', (select coalesce(pg_catalog.jsonb_agg(app.money(b.amount, b.currency) order by b.currency), '[]')
                   from (select e.currency, sum(e.amount)::bigint amount
                           from app.customer_balance_entries e
                          where e.org_id = auth.org_id() and e.customer_id = v_customer
                          group by e.currency having sum(e.amount) <> 0) b),
    'entries', (select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                        'amount', app.money(e.amount, e.currency), 'source', e.source_kind, 'sourceId', e.source_id,
                        'createdAt', app.ts(e.created_at)) order by e.created_at desc, e.id desc), '[]')
                  from (select * from app.customer_balance_entries e
                         where e.org_id = auth.org_id() and e.customer_id = v_customer
                         order by e.created_at desc, e.id desc limit 50) e));
end
$$;
comment on function api.get_customer_balance(jsonb) is 'The customer''s credit balance per currency and its latest 50 ledger entries (credit notes, overpayments, refused refunds, payments from the balance and their refunds).';
grant execute on function api.get_customer_balance(jsonb) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Payments and refunds
-- ---------------------------------------------------------------------------------------
create function api.record_payment(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  i app.invoices;
  pm app.payments;
  v_amount bigint := (p ->> 'amount')::bigint;
  v_due bigint;
  v_balance bigint;
begin
  perform app.require_billing_role('manager', 'record payments');
  i := app.invoice_for_update((p ->> 'invoiceId')::uuid);
  if i.status not in ('open', 'uncollectible') then
    raise exception using errcode = '55000', hint = 'invalid_invoice_state',
      message = pg_catalog.format('A %s invoice takes no payment (only an open or uncollectible one%s).', i.status,
                                  case when i.status = 'draft' then ': finalise it first' else '' end);
  end if;
  if p ->> 'currency' is not null and pg_catalog.upper(p ->> 'currency') <> i.currency then
    perform app.raise_invalid('currency', 'currency_mismatch',
      pg_catalog.format('The invoice is in %s.', i.currency));
  end if;
  v_due := app.invoice_amount_due(i);
  if v_amount > v_due then
    raise exception using errcode = '22023', hint = 'overpayment', column = 'amount',
      message = pg_catalog.format('The payment (%s) is more than the amount due (%s %s).', v_amount, v_due, i.currency),
      detail = pg_catalog.jsonb_build_object('amountDue', app.money(v_due, i.currency))::text;
  end if;
  -- Credit from the balance: the customer's row is locked, so two payments cannot spend the
  -- same credit.
  if p ->> 'method' = 'credit_balance' then
    perform from app.customers c where c.org_id = i.org_id and c.id = i.customer_id for update;
    v_balance := app.customer_balance(i.customer_id, i.currency);
    if v_amount > v_balance then
      raise exception using errcode = '22023', hint = 'insufficient_balance', column = 'amount',
        message = pg_catalog.format('The customer''s credit balance is %s %s.', v_balance, i.currency),
        detail = pg_catalog.jsonb_build_object('balance', app.money(v_balance, i.currency))::text;
    end if;
  end if;
  insert into app.payments (org_id, invoice_id, customer_id, method, amount, currency, received_on, reference,
                            staff_user_id, created_by)
  values (i.org_id, i.id, i.customer_id, p ->> 'method', v_amount, i.currency,
          coalesce((p ->> 'receivedOn')::date, app.billing_today()), p ->> 'reference', i.staff_user_id, auth.user_id())
  returning * into pm;
  if pm.method = 'credit_balance' then
    insert into app.customer_balance_entries (org_id, customer_id, currency, amount, source_kind, source_id)
    values (pm.org_id, pm.customer_id, pm.currency, -pm.amount, 'payment', pm.id);
  end if;
  perform app.settle_invoice(i.id, v_amount, 0, 0);
  return app.payment_json(pm);
end
$$;
comment on function api.record_payment(jsonb) is 'Records money received for an open (or uncollectible) invoice, or credit taken from the customer''s balance (credit_balance): partial payments add up; more than the amount due, or than the balance holds, is refused. The invoice is paid when nothing is owed.';
grant execute on function api.record_payment(jsonb) to favcrm_member;

create function api.get_payment(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  pm app.payments;
begin
  perform app.require_billing_read();
  select * into pm from app.payments where org_id = auth.org_id() and id = (p ->> 'paymentId')::uuid;
  if not found then
    perform app.not_found('payment');
  end if;
  return app.payment_json(pm);
end
$$;
comment on function api.get_payment(jsonb) is 'Returns one payment with its refunds.';
grant execute on function api.get_payment(jsonb) to favcrm_member;

create function api.list_payments(p jsonb) returns json
language plpgsql stable set search_path = '' set plan_cache_mode = force_generic_plan as $$
declare
  v_org uuid := auth.org_id();
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
  v_invoice uuid := (p ->> 'invoiceId')::uuid;
  v_customer uuid := (p ->> 'customerId')::uuid;
  v_method text := p ->> 'method';
  v_page json;
begin
  perform app.require_billing_read();
  if v_invoice is null and v_customer is null and v_method is null then
    return (
      select app.page_json(pg_catalog.json_agg(app.payment_json(x.pm) order by x.n) filter (where x.n <= v_limit),
                           (pg_catalog.array_agg(x.id) filter (where x.n = v_limit))[1],
                           pg_catalog.count(*) > v_limit)
        from (select pm.id, pm, pg_catalog.row_number() over (order by pm.id desc) n
                from app.payments pm
               where pm.org_id = v_org
                 and pm.id < coalesce(v_after, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
               order by pm.id desc
               limit v_limit + 1) x);
  end if;
  execute $query$
    select app.page_json(pg_catalog.json_agg(app.payment_json(x.pm) order by x.n) filter (where x.n <= $2),
                         (pg_catalog.array_agg(x.id) filter (where x.n = $2))[1],
                         pg_catalog.count(*) > $2)
      from (select pm.id, pm, pg_catalog.row_number() over (order by pm.id desc) n
              from app.payments pm
             where pm.org_id = $1
               and ($3::uuid is null or pm.id < $3)
               and ($4::uuid is null or pm.invoice_id = $4)
               and ($5::uuid is null or pm.customer_id = $5)
               and ($6::text is null or pm.method = $6)
             order by pm.id desc
             limit $2 + 1) x
  $query$ into v_page using v_org, v_limit, v_after, v_invoice, v_customer, v_method;
  return v_page;
end
$$;
comment on function api.list_payments(jsonb) is 'Payments, newest first, by invoice, customer or method.';
grant execute on function api.list_payments(jsonb) to favcrm_member;

-- Gives back p_amount from a payment (the caller holds the invoice locked and checked the amount
-- against what the payment still holds), recording the refund: at once for money taken by hand,
-- pending until Stripe answers for a Stripe payment (counted against the payment meanwhile).
create function app.refund_from(pm app.payments, p_amount bigint, p_reason text, p_credit_note uuid) returns app.refunds
language plpgsql set search_path = '' as $$
declare
  r app.refunds;
begin
  insert into app.refunds (org_id, payment_id, invoice_id, credit_note_id, amount, currency, reason, status,
                           staff_user_id, created_by)
  values (pm.org_id, pm.id, pm.invoice_id, p_credit_note, p_amount, pm.currency, p_reason,
          case when pm.method = 'stripe' then 'pending' else 'succeeded' end, pm.staff_user_id, auth.user_id())
  returning * into r;
  update app.payments set amount_refunded = amount_refunded + p_amount where org_id = pm.org_id and id = pm.id;
  -- Credit spent from the balance comes back to it.
  if pm.method = 'credit_balance' then
    insert into app.customer_balance_entries (org_id, customer_id, currency, amount, source_kind, source_id)
    values (pm.org_id, pm.customer_id, pm.currency, p_amount, 'refund', r.id);
  end if;
  return r;
end
$$;
comment on function app.refund_from(app.payments, bigint, text, uuid) is 'Records a refund from a payment and adds it to the payment''s refunded sum: succeeded at once for a payment taken by hand, pending until Stripe answers for a Stripe payment.';
grant execute on function app.refund_from(app.payments, bigint, text, uuid) to favcrm_member;

create function api.refund_payment(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  pm app.payments;
  i app.invoices;
  v_amount bigint;
  v_refund app.refunds;
  v_gate jsonb;
begin
  perform app.require_billing_role('admin', 'refund payments');
  select * into pm from app.payments where org_id = auth.org_id() and id = (p ->> 'paymentId')::uuid;
  if not found then
    perform app.not_found('payment');
  end if;
  i := app.invoice_for_update(pm.invoice_id);
  select * into pm from app.payments where org_id = pm.org_id and id = pm.id;
  v_amount := coalesce((p ->> 'amount')::bigint, pm.amount - pm.amount_refunded);
  if v_amount = 0 then
    raise exception using errcode = '55000', hint = 'payment_fully_refunded',
      message = 'The payment has been refunded in full already.';
  end if;
  if v_amount > pm.amount - pm.amount_refunded then
    raise exception using errcode = '22023', hint = 'refund_exceeds_payment', column = 'amount',
      message = pg_catalog.format('At most %s %s of this payment can still be refunded.', pm.amount - pm.amount_refunded,
                                  pm.currency),
      detail = pg_catalog.jsonb_build_object('refundable', app.money(pm.amount - pm.amount_refunded, pm.currency))::text;
  end if;
  -- An agent's refund may wait for a person (approvals.sql); the amount is fixed now.
  v_gate := app.approval_gate('refund_payment', pg_catalog.jsonb_build_object(
      'input', pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object('paymentId', pm.id, 'amount', v_amount,
                                                                          'reason', p ->> 'reason')),
      'payment', app.payment_json(pm), 'refund', app.money(v_amount, pm.currency)),
    pg_catalog.format('Refund %s of payment %s (customer %s)', app.format_money(v_amount, pm.currency), pm.id,
                      (select c.name from app.customers c where c.org_id = pm.org_id and c.id = pm.customer_id)));
  if v_gate is not null then
    return v_gate;
  end if;
  perform auth.require_confirmation('refund_payment');
  v_refund := app.refund_from(pm, v_amount, p ->> 'reason', null);
  perform app.settle_invoice(i.id, -v_amount, 0, 0);
  select * into pm from app.payments where org_id = pm.org_id and id = pm.id;
  if v_refund.status = 'pending' then
    return app.payment_json(pm)
           || pg_catalog.jsonb_build_object('_stripe', app.stripe_request(app.stripe_refund_calls(array[v_refund.id])));
  end if;
  return app.payment_json(pm);
end
$$;
comment on function api.refund_payment(jsonb) is 'Gives back all or part of a payment (never more than it still holds). The invoice owes the refunded amount again (paid → open); to give money back because the bill was wrong, issue a credit note with refundExcess instead.';
grant execute on function api.refund_payment(jsonb) to favcrm_member;

create function api.preview_refund(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  pm app.payments;
  i app.invoices;
  v_amount bigint;
begin
  perform app.require_billing_read();
  select * into pm from app.payments where org_id = auth.org_id() and id = (p ->> 'paymentId')::uuid;
  if not found then
    perform app.not_found('payment');
  end if;
  select * into i from app.invoices where org_id = pm.org_id and id = pm.invoice_id;
  v_amount := coalesce((p ->> 'amount')::bigint, pm.amount - pm.amount_refunded);
  return pg_catalog.jsonb_build_object(
    'target', app.payment_json(pm),
    'effect', pg_catalog.jsonb_build_object(
      'refund', app.money(v_amount, pm.currency),
      'invoiceNumber', i.number,
      'invoiceAmountDueAfter', app.money(app.invoice_amount_due(i) + v_amount, i.currency),
      'invoiceStatusAfter', case when i.status = 'paid' and v_amount > 0 then 'open' else i.status end));
end
$$;
comment on function api.preview_refund(jsonb) is 'Not an operation of the catalog: the preview a confirmation shows for refund_payment: the payment, the amount to refund and what the invoice will owe after.';
grant execute on function api.preview_refund(jsonb) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Credit notes
-- ---------------------------------------------------------------------------------------
-- What a credit note would do, without doing it: the lines with their amounts and tax, and the
-- split of the total between the amount due, refunds and the credit balance.
create function app.plan_credit_note(i app.invoices, p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_item jsonb;
  l app.invoice_lines;
  v_lines jsonb := '[]';
  v_amount bigint := 0;
  v_tax bigint := 0;
  v_line_amount bigint;
  v_line_tax bigint;
  v_credited bigint;
  v_n int := 0;
  v_due bigint := app.invoice_amount_due(i);
  v_applied bigint;
  v_excess bigint;
begin
  if i.status not in ('open', 'paid') then
    raise exception using errcode = '55000', hint = 'invalid_invoice_state',
      message = pg_catalog.format('A %s invoice cannot be credited (only an open or paid one).', i.status);
  end if;
  if (p ? 'lines') = (p ? 'amount') then
    perform app.raise_invalid('amount', 'amount_or_lines', 'Give either amount or lines.');
  end if;
  if p ? 'lines' then
    for v_item in select * from pg_catalog.jsonb_array_elements(p -> 'lines') loop
      select * into l from app.invoice_lines
       where org_id = i.org_id and invoice_id = i.id and id = (v_item ->> 'invoiceLineId')::uuid;
      if not found then
        perform app.not_found('line on this invoice', pg_catalog.format('lines[%s].invoiceLineId', v_n));
      end if;
      if (v_item ? 'amount') = (v_item ? 'quantity') then
        perform app.raise_invalid(pg_catalog.format('lines[%s].amount', v_n), 'amount_or_quantity',
          'Give either amount or quantity for each line.');
      end if;
      if v_item ? 'quantity' then
        if (v_item ->> 'quantity')::int > l.quantity then
          perform app.raise_invalid(pg_catalog.format('lines[%s].quantity', v_n), 'credit_exceeds_line',
            pg_catalog.format('The line has a quantity of %s.', l.quantity));
        end if;
        v_line_amount := app.div_round(l.total_amount::numeric * (v_item ->> 'quantity')::int, l.quantity);
      else
        v_line_amount := (v_item ->> 'amount')::bigint;
      end if;
      select coalesce(sum(c.amount), 0) + coalesce((select sum((x ->> 'amount')::bigint) from pg_catalog.jsonb_array_elements(v_lines) x
                                                     where x ->> 'invoiceLineId' = l.id::text), 0)
        into v_credited
        from app.credit_note_lines c where c.org_id = l.org_id and c.invoice_line_id = l.id;
      if v_line_amount > l.total_amount - v_credited then
        perform app.raise_invalid(pg_catalog.format('lines[%s].amount', v_n), 'credit_exceeds_line',
          pg_catalog.format('At most %s %s of this line can still be credited.', l.total_amount - v_credited, i.currency));
      end if;
      if v_line_amount <= 0 then
        perform app.raise_invalid(pg_catalog.format('lines[%s].amount', v_n), 'out_of_range', 'A credit must be more than zero.');
      end if;
      v_line_tax := case when l.total_amount = 0 then 0
                         else app.div_round(v_line_amount::numeric * l.tax_amount, l.total_amount) end;
      v_lines := v_lines || pg_catalog.jsonb_build_object('invoiceLineId', l.id, 'description', l.description,
                                                          'amount', v_line_amount, 'tax', v_line_tax);
      v_amount := v_amount + v_line_amount;
      v_tax := v_tax + v_line_tax;
      v_n := v_n + 1;
    end loop;
  else
    v_amount := (p ->> 'amount')::bigint;
    v_tax := case when i.total_amount = 0 then 0 else app.div_round(v_amount::numeric * i.tax_amount, i.total_amount) end;
  end if;
  if v_amount <= 0 then
    perform app.raise_invalid('amount', 'out_of_range', 'A credit note must credit more than zero.');
  end if;
  if v_amount > i.total_amount - i.amount_credited then
    raise exception using errcode = '22023', hint = 'credit_exceeds_invoice', column = 'amount',
      message = pg_catalog.format('At most %s %s of this invoice can still be credited.', i.total_amount - i.amount_credited,
                                  i.currency),
      detail = pg_catalog.jsonb_build_object('creditable', app.money(i.total_amount - i.amount_credited, i.currency))::text;
  end if;
  v_applied := least(v_amount, v_due);
  v_excess := v_amount - v_applied;
  return pg_catalog.jsonb_build_object(
    'lines', v_lines, 'amount', v_amount, 'tax', v_tax, 'applied', v_applied,
    'refund', case when coalesce((p ->> 'refundExcess')::boolean, false) then v_excess else 0 end,
    'balance', case when coalesce((p ->> 'refundExcess')::boolean, false) then 0 else v_excess end);
end
$$;
comment on function app.plan_credit_note(app.invoices, jsonb) is 'Works out a credit note for an invoice without writing it: its lines (amount and tax), total and tax, and the split between the amount due, refunds and the customer''s credit balance; raises the refusals (state, bounds).';
grant execute on function app.plan_credit_note(app.invoices, jsonb) to favcrm_member;

create function api.create_credit_note(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  i app.invoices;
  cn app.credit_notes;
  pm app.payments;
  v_plan jsonb;
  v_local timestamp;
  v_prefix text;
  v_seq int;
  v_left bigint;
  v_take bigint;
  v_refund app.refunds;
  v_pending uuid[] := '{}';
begin
  perform app.require_billing_role('admin', 'issue credit notes');
  perform auth.require_confirmation('create_credit_note');
  i := app.invoice_for_update((p ->> 'invoiceId')::uuid);
  v_plan := app.plan_credit_note(i, p);
  select pg_catalog.now() at time zone o.timezone, o.credit_note_prefix into v_local, v_prefix
    from app.organisations o where o.id = i.org_id;
  v_seq := app.next_document_number('credit_note', v_prefix, extract(year from v_local)::int);
  insert into app.credit_notes (org_id, invoice_id, customer_id, series, year, sequence, number, currency, reason, memo,
                                amount, tax_amount, applied_amount, refund_amount, balance_amount, staff_user_id,
                                created_by)
  values (i.org_id, i.id, i.customer_id, v_prefix, extract(year from v_local)::int, v_seq,
          app.document_number(v_prefix, extract(year from v_local)::int, v_seq), i.currency, p ->> 'reason', p ->> 'memo',
          (v_plan ->> 'amount')::bigint, (v_plan ->> 'tax')::bigint, (v_plan ->> 'applied')::bigint,
          (v_plan ->> 'refund')::bigint, (v_plan ->> 'balance')::bigint, i.staff_user_id, auth.user_id())
  returning * into cn;
  insert into app.credit_note_lines (org_id, credit_note_id, position, invoice_line_id, description, amount, tax_amount)
  select cn.org_id, cn.id, x.n, (x.line ->> 'invoiceLineId')::uuid, x.line ->> 'description',
         (x.line ->> 'amount')::bigint, (x.line ->> 'tax')::bigint
    from pg_catalog.jsonb_array_elements(v_plan -> 'lines') with ordinality x (line, n);
  -- The refund comes out of the invoice's payments, newest first.
  v_left := cn.refund_amount;
  for pm in select * from app.payments where org_id = i.org_id and invoice_id = i.id and amount_refunded < amount
             order by id desc loop
    exit when v_left = 0;
    v_take := least(v_left, pm.amount - pm.amount_refunded);
    v_refund := app.refund_from(pm, v_take, coalesce(p ->> 'reason', 'credit note'), cn.id);
    if v_refund.status = 'pending' then
      v_pending := v_pending || v_refund.id;
    end if;
    v_left := v_left - v_take;
  end loop;
  if cn.balance_amount > 0 then
    insert into app.customer_balance_entries (org_id, customer_id, currency, amount, source_kind, source_id)
    values (cn.org_id, cn.customer_id, cn.currency, cn.balance_amount, 'credit_note', cn.id);
  end if;
  perform app.settle_invoice(i.id, -cn.refund_amount, cn.amount, cn.balance_amount);
  -- What went back to the customer's balance takes back its share of the points the invoice's
  -- payments earned (a refund does so through its own trigger).
  perform auth.reverse_loyalty_for_credit_note(cn.id);
  if pg_catalog.cardinality(v_pending) > 0 then
    return app.credit_note_json(cn)
           || pg_catalog.jsonb_build_object('_stripe', app.stripe_request(app.stripe_refund_calls(v_pending)));
  end if;
  return app.credit_note_json(cn);
end
$$;
comment on function api.create_credit_note(jsonb) is 'Credits an open or paid invoice, by lines or by an amount (never more than the invoice): what is still owed goes down first; any excess is refunded from its payments (refundExcess) or goes to the customer''s credit balance. Numbered in the credit-note series.';
grant execute on function api.create_credit_note(jsonb) to favcrm_member;

create function api.preview_credit_note(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  i app.invoices;
  v_plan jsonb;
begin
  perform app.require_billing_read();
  select * into i from app.invoices where org_id = auth.org_id() and id = (p ->> 'invoiceId')::uuid;
  if not found then
    perform app.not_found('invoice');
  end if;
  v_plan := app.plan_credit_note(i, p);
  return pg_catalog.jsonb_build_object(
    'target', app.invoice_summary_json(i, app.billing_today())::jsonb,
    'effect', pg_catalog.jsonb_build_object(
      'credit', app.money((v_plan ->> 'amount')::bigint, i.currency),
      'tax', app.money((v_plan ->> 'tax')::bigint, i.currency),
      'appliedToAmountDue', app.money((v_plan ->> 'applied')::bigint, i.currency),
      'refunded', app.money((v_plan ->> 'refund')::bigint, i.currency),
      'creditedToBalance', app.money((v_plan ->> 'balance')::bigint, i.currency),
      'invoiceAmountDueAfter', app.money(app.invoice_amount_due(i) - (v_plan ->> 'applied')::bigint, i.currency)));
end
$$;
comment on function api.preview_credit_note(jsonb) is 'Not an operation of the catalog: the preview a confirmation shows for create_credit_note: the invoice and where the credit will go.';
grant execute on function api.preview_credit_note(jsonb) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Stripe: the organisation's own account, payment links, refunds through Stripe, and the
-- events Stripe sends. The server encrypts the secrets before they reach these functions and
-- is the only one that can decrypt them; it calls Stripe after the transaction that asked for
-- a call (under `_stripe` in the answer, removed before the client sees it) committed, with
-- the link's or refund's id as Stripe's Idempotency-Key, and records what Stripe answered with
-- auth.apply_stripe_results. Stripe's events arrive at auth.record_stripe_event.
-- ---------------------------------------------------------------------------------------
create function app.stripe_connection_json(pp app.payment_providers) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'connected', pp.org_id is not null,
    'keyHint', pp.key_hint,
    'livemode', pp.livemode,
    'connectedAt', app.ts(pp.connected_at),
    'webhookPath', '/v1/webhooks/stripe/' || auth.org_id())
$$;
comment on function app.stripe_connection_json(app.payment_providers) is 'The API representation of the Stripe connection: whether there is one, which key (a hint), live or test mode, and the webhook path to give Stripe. Never the secrets.';
grant execute on function app.stripe_connection_json(app.payment_providers) to favcrm_member;

create function api.connect_stripe(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  pp app.payment_providers;
begin
  perform app.require_billing_role('owner', 'connect Stripe');
  if p ->> 'secretKeyCiphertext' is null or p ->> 'webhookSecretCiphertext' is null then
    raise exception using errcode = '22023', hint = 'secrets_not_sealed',
      message = 'The server must encrypt the Stripe secrets before storing them.';
  end if;
  -- The same secrets again change nothing (they are compared by their digests: each sealing
  -- of a secret is different).
  select * into pp from app.payment_providers where org_id = auth.org_id() and provider = 'stripe';
  if pp.secret_key_digest = pg_catalog.decode(p ->> 'secretKeyDigest', 'hex')
     and pp.webhook_secret_digest = pg_catalog.decode(p ->> 'webhookSecretDigest', 'hex') then
    return app.stripe_connection_json(pp);
  end if;
  insert into app.payment_providers as x (org_id, provider, secret_key_ciphertext, secret_key_digest, key_hint, livemode,
                                          webhook_secret_ciphertext, webhook_secret_digest, connected_by)
  values (auth.org_id(), 'stripe', pg_catalog.decode(p ->> 'secretKeyCiphertext', 'base64'),
          pg_catalog.decode(p ->> 'secretKeyDigest', 'hex'), p ->> 'keyHint',
          (p ->> 'livemode')::boolean, pg_catalog.decode(p ->> 'webhookSecretCiphertext', 'base64'),
          pg_catalog.decode(p ->> 'webhookSecretDigest', 'hex'), auth.user_id())
  on conflict (org_id, provider) do update set
    secret_key_ciphertext = excluded.secret_key_ciphertext, secret_key_digest = excluded.secret_key_digest,
    key_hint = excluded.key_hint, livemode = excluded.livemode,
    webhook_secret_ciphertext = excluded.webhook_secret_ciphertext,
    webhook_secret_digest = excluded.webhook_secret_digest, connected_by = excluded.connected_by,
    connected_at = pg_catalog.now()
  returning x.* into pp;
  return app.stripe_connection_json(pp);
end
$$;
comment on function api.connect_stripe(jsonb) is 'Stores the organisation''s Stripe secret key and webhook signing secret, encrypted by the server (owners only); connecting again replaces them.';
grant execute on function api.connect_stripe(jsonb) to favcrm_member;

create function api.disconnect_stripe(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  pp app.payment_providers;
begin
  perform app.require_billing_role('owner', 'disconnect Stripe');
  perform auth.require_confirmation('disconnect_stripe');
  delete from app.payment_providers where org_id = auth.org_id() and provider = 'stripe';
  return app.stripe_connection_json(pp);
end
$$;
comment on function api.disconnect_stripe(jsonb) is 'Forgets the organisation''s Stripe secrets (owners only): no more payment links or Stripe refunds, and Stripe''s events are refused. Disconnecting twice changes nothing.';
grant execute on function api.disconnect_stripe(jsonb) to favcrm_member;

create function api.get_stripe_connection(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  pp app.payment_providers;
begin
  perform auth.require_scope('billing:read');
  if auth.role_rank(auth.role()) < auth.role_rank('manager') then
    raise exception using errcode = '42501', hint = 'forbidden',
      message = 'Only managers, admins and owners can see the Stripe connection.';
  end if;
  select * into pp from app.payment_providers where org_id = auth.org_id() and provider = 'stripe';
  return app.stripe_connection_json(pp);
end
$$;
comment on function api.get_stripe_connection(jsonb) is 'Whether Stripe is connected, with a hint of the key and the webhook path (managers and above).';
grant execute on function api.get_stripe_connection(jsonb) to favcrm_member;

-- The request for calls to Stripe an answer carries under _stripe: the encrypted key and the calls.
create function app.stripe_request(p_calls jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_secret bytea;
begin
  select pp.secret_key_ciphertext into v_secret from app.payment_providers pp
   where pp.org_id = auth.org_id() and pp.provider = 'stripe';
  if v_secret is null then
    raise exception using errcode = '55000', hint = 'stripe_not_connected',
      message = 'Stripe is not connected: an owner connects it with connect_stripe.';
  end if;
  return pg_catalog.jsonb_build_object('orgId', auth.org_id(), 'secret', pg_catalog.encode(v_secret, 'base64'),
                                       'calls', p_calls);
end
$$;
comment on function app.stripe_request(jsonb) is 'What the server needs to call Stripe after the transaction: the organisation, its encrypted secret key and the calls; raises 409 stripe_not_connected when there is no connection.';
grant execute on function app.stripe_request(jsonb) to favcrm_member;

create function app.payment_link_json(pl app.payment_links) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', pl.id,
    'invoiceId', pl.invoice_id,
    'status', pl.status,
    'amount', app.money(pl.amount, pl.currency),
    'url', pl.url,
    'providerSessionId', pl.provider_session_id,
    'expiresAt', app.ts(pl.expires_at),
    'createdAt', app.ts(pl.created_at))
$$;
comment on function app.payment_link_json(app.payment_links) is 'The API representation of a payment link.';
grant execute on function app.payment_link_json(app.payment_links) to favcrm_member;

create function api.create_payment_link(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  i app.invoices;
  pl app.payment_links;
  v_due bigint;
  v_email text;
begin
  perform app.require_billing_role('manager', 'make payment links');
  i := app.invoice_for_update((p ->> 'invoiceId')::uuid);
  if i.status not in ('open', 'uncollectible') then
    raise exception using errcode = '55000', hint = 'invalid_invoice_state',
      message = pg_catalog.format('A %s invoice cannot be paid (only an open or uncollectible one%s).', i.status,
                                  case when i.status = 'draft' then ': finalise it first' else '' end);
  end if;
  v_due := app.invoice_amount_due(i);
  -- Stripe takes three-decimal currencies (KWD, BHD …) in minor units whose last digit is 0.
  if app.currency_exponent(i.currency) = 3 and v_due % 10 <> 0 then
    raise exception using errcode = '22023', hint = 'amount_not_payable_online', column = 'invoiceId',
      message = pg_catalog.format('Stripe charges %s only in whole hundredths (the amount due, %s, ends in a fils); record the payment by hand or credit the odd fils.', i.currency, v_due);
  end if;
  select c.email into v_email from app.customers c where c.org_id = i.org_id and c.id = i.customer_id;
  insert into app.payment_links (org_id, invoice_id, amount, currency, created_by)
  values (i.org_id, i.id, v_due, i.currency, auth.user_id())
  returning * into pl;
  return app.payment_link_json(pl) || pg_catalog.jsonb_build_object('_stripe', app.stripe_request(
    pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
      'kind', 'checkout_session', 'linkId', pl.id, 'invoiceId', i.id, 'invoiceNumber', i.number,
      'amount', v_due, 'currency', pg_catalog.lower(i.currency), 'customerEmail', v_email))));
end
$$;
comment on function api.create_payment_link(jsonb) is 'Makes a Stripe Checkout Session for what an open invoice still owes (the server calls Stripe after this commits and records the URL).';
grant execute on function api.create_payment_link(jsonb) to favcrm_member;

-- What Stripe answered for the calls of one request: each link gets its session and URL (or
-- fails), each refund gets Stripe's id (or fails: its amount is given back to the payment, and
-- for a credit note it goes to the customer's credit balance instead). Idempotent: a result
-- applied twice changes nothing more. Returns what the operation answers. In auth, not app,
-- because the server prepares the call before its transaction takes the member's role, and the
-- authenticator may name auth's functions only; it runs as the member, under the member's
-- policies (SECURITY INVOKER).
create function auth.apply_stripe_results(p_op text, p_results jsonb, p_body jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_result jsonb;
  r app.refunds;
  cn app.credit_notes;
  pl app.payment_links;
begin
  for v_result in select * from pg_catalog.jsonb_array_elements(p_results) loop
    if v_result ->> 'kind' = 'checkout_session' then
      if (v_result ->> 'ok')::boolean then
        update app.payment_links set status = 'open', provider_session_id = v_result #>> '{session,id}',
                                     url = v_result #>> '{session,url}',
                                     expires_at = pg_catalog.to_timestamp((v_result #>> '{session,expires_at}')::bigint),
                                     updated_at = pg_catalog.now()
         where org_id = auth.org_id() and id = (v_result ->> 'linkId')::uuid and status = 'creating';
      else
        update app.payment_links set status = 'failed', failure_reason = v_result ->> 'error', updated_at = pg_catalog.now()
         where org_id = auth.org_id() and id = (v_result ->> 'linkId')::uuid and status = 'creating';
      end if;
    elsif v_result ->> 'kind' = 'refund' then
      select * into r from app.refunds
       where org_id = auth.org_id() and id = (v_result ->> 'refundId')::uuid and status = 'pending' for update;
      continue when not found;
      if (v_result ->> 'ok')::boolean then
        update app.refunds set status = 'succeeded', provider_refund_id = v_result #>> '{refund,id}',
                               updated_at = pg_catalog.now()
         where org_id = r.org_id and id = r.id;
      else
        perform app.fail_refund(r, v_result ->> 'error');
      end if;
    end if;
  end loop;
  if p_op = 'create_payment_link' then
    select * into pl from app.payment_links where org_id = auth.org_id() and id = (p_body ->> 'id')::uuid;
    return app.payment_link_json(pl);
  elsif p_op = 'create_credit_note' then
    select * into cn from app.credit_notes where org_id = auth.org_id() and id = (p_body ->> 'id')::uuid;
    return app.credit_note_json(cn);
  elsif p_op = 'refund_payment' then
    return (select app.payment_json(pm) from app.payments pm where pm.org_id = auth.org_id() and pm.id = (p_body ->> 'id')::uuid);
  elsif p_op = 'approve' and p_body ->> 'operation' = 'refund_payment' then
    return p_body || pg_catalog.jsonb_build_object('result',
      (select app.payment_json(pm) from app.payments pm where pm.org_id = auth.org_id() and pm.id = (p_body #>> '{result,id}')::uuid));
  elsif p_op in ('create_subscription', 'resume_subscription') then
    return (select app.subscription_json(s) from app.subscriptions s
             where s.org_id = auth.org_id() and s.id = (p_body ->> 'id')::uuid);
  else
    return p_body;
  end if;
end
$$;
comment on function auth.apply_stripe_results(text, jsonb, jsonb) is 'Records what Stripe answered for the calls a request (or the scheduler) asked for (payment link sessions, refunds) and returns the operation''s answer as it now stands.';
grant execute on function auth.apply_stripe_results(text, jsonb, jsonb) to favcrm_member;

-- A refund Stripe refused: its amount goes back to the payment (and the invoice owes it no
-- more than before); a credit note's refund becomes credit on the customer's balance instead.
create function app.fail_refund(r app.refunds, p_reason text) returns void
language plpgsql set search_path = '' as $$
declare
  i app.invoices;
begin
  i := app.invoice_for_update(r.invoice_id);
  update app.refunds set status = 'failed', failure_reason = p_reason, updated_at = pg_catalog.now()
   where org_id = r.org_id and id = r.id;
  update app.payments set amount_refunded = amount_refunded - r.amount where org_id = r.org_id and id = r.payment_id;
  if r.credit_note_id is not null then
    update app.credit_notes set refund_amount = refund_amount - r.amount, balance_amount = balance_amount + r.amount
     where org_id = r.org_id and id = r.credit_note_id;
    insert into app.customer_balance_entries (org_id, customer_id, currency, amount, source_kind, source_id)
    values (r.org_id, i.customer_id, r.currency, r.amount, 'failed_refund', r.id);
    perform app.settle_invoice(i.id, r.amount, 0, r.amount);
  else
    perform app.settle_invoice(i.id, r.amount, 0, 0);
  end if;
end
$$;
comment on function app.fail_refund(app.refunds, text) is 'Marks a pending refund failed and gives its amount back to the payment; a credit note''s refund goes to the customer''s credit balance instead.';
grant execute on function app.fail_refund(app.refunds, text) to favcrm_member;

-- The refund calls to make for a request's pending Stripe refunds.
create function app.stripe_refund_calls(p_refunds uuid[]) returns jsonb
language sql stable as $$
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'kind', 'refund', 'refundId', r.id, 'paymentIntent', pm.provider_payment_id, 'amount', r.amount,
           'currency', pg_catalog.lower(r.currency)) order by r.id), '[]')
    from app.refunds r
    join app.payments pm on pm.org_id = r.org_id and pm.id = r.payment_id
   where r.org_id = auth.org_id() and r.id = any (p_refunds) and r.status = 'pending'
$$;
comment on function app.stripe_refund_calls(uuid[]) is 'The Stripe refund calls for pending refunds: payment intent, amount and currency, keyed by the refund''s id.';
grant execute on function app.stripe_refund_calls(uuid[]) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Stripe's events. The server reads the encrypted webhook secret, decrypts it and checks the
-- Stripe-Signature header (HMAC-SHA256 of "timestamp.payload", five minutes' tolerance,
-- constant-time); then this entry point checks it again with the secret the server used
-- (whose SHA-256 must be the stored one), so a forged event is refused even if the server's
-- check were skipped, and records the event once.
-- ---------------------------------------------------------------------------------------
create function auth.stripe_webhook_secret(p_org uuid) returns jsonb
language plpgsql security definer set search_path = '' as $$
begin
  -- The policies let this entry point read the claimed organisation's connection only.
  perform auth.set_claims(pg_catalog.jsonb_build_object('org_id', p_org, 'via', 'stripe', 'op', 'stripe_webhook'));
  return (select pg_catalog.jsonb_build_object('sealed', pg_catalog.encode(pp.webhook_secret_ciphertext, 'base64'))
            from app.payment_providers pp where pp.org_id = p_org and pp.provider = 'stripe');
end
$$;
comment on function auth.stripe_webhook_secret(uuid) is 'The encrypted webhook signing secret of an organisation''s Stripe connection as {sealed: base64} (NULL when none), for the server to verify an event with.';
revoke all on function auth.stripe_webhook_secret(uuid) from public;
grant execute on function auth.stripe_webhook_secret(uuid) to favcrm_anon;

create function auth.record_stripe_event(p_org uuid, p_payload text, p_signature text, p_secret text) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_digest bytea;
  v_t text := pg_catalog.substring(p_signature, '(?:^|,)t=([0-9]+)');
  v_event jsonb;
  v_object jsonb;
  v_inserted int;
  pl app.payment_links;
  i app.invoices;
  pm app.payments;
  v_amount bigint;
  v_due bigint;
  v_refund jsonb;
  r app.refunds;
begin
  -- The policies let this entry point reach the claimed organisation's rows only.
  perform auth.set_claims(pg_catalog.jsonb_build_object('org_id', p_org, 'via', 'stripe', 'op', 'stripe_webhook'));
  select pp.webhook_secret_digest into v_digest from app.payment_providers pp
   where pp.org_id = p_org and pp.provider = 'stripe';
  if v_digest is null or v_digest <> ext.digest(pg_catalog.convert_to(p_secret, 'UTF8'), 'sha256') then
    raise exception using errcode = '22023', hint = 'invalid_signature', message = 'The event is not signed for this organisation.';
  end if;
  if v_t is null or pg_catalog.abs(extract(epoch from pg_catalog.now()) - v_t::bigint) > 300 then
    raise exception using errcode = '22023', hint = 'signature_expired', message = 'The event''s timestamp is not within five minutes of now.';
  end if;
  if not (pg_catalog.encode(ext.hmac(pg_catalog.convert_to(v_t || '.' || p_payload, 'UTF8'),
                                     pg_catalog.convert_to(p_secret, 'UTF8'), 'sha256'), 'hex')
          = any (array(select m[1] from pg_catalog.regexp_matches(p_signature, '(?:^|,)v1=([0-9a-f]+)', 'g') m))) then
    raise exception using errcode = '22023', hint = 'invalid_signature', message = 'No v1 signature of the event matches.';
  end if;
  v_event := p_payload::jsonb;
  perform auth.set_claims(pg_catalog.jsonb_build_object('org_id', p_org, 'via', 'stripe', 'op', 'stripe_webhook',
                                                        'request_id', v_event ->> 'id'));
  insert into app.provider_events (org_id, provider, event_id, type)
  values (p_org, 'stripe', v_event ->> 'id', coalesce(v_event ->> 'type', 'unknown'))
  on conflict do nothing;
  get diagnostics v_inserted = row_count;
  if v_inserted = 0 then
    return pg_catalog.jsonb_build_object('received', true, 'duplicate', true);
  end if;
  v_object := v_event #> '{data,object}';
  if v_event ->> 'type' in ('checkout.session.completed', 'checkout.session.async_payment_succeeded')
     and v_object ->> 'payment_status' = 'paid' then
    select * into pl from app.payment_links where org_id = p_org and provider_session_id = v_object ->> 'id';
    if not found then
      select * into pl from app.payment_links
       where org_id = p_org and id = (v_object #>> '{metadata,favcrm_link_id}')::uuid;
    end if;
    if pl.id is null then
      return pg_catalog.jsonb_build_object('received', true, 'ignored', 'unknown checkout session');
    end if;
    select * into i from app.invoices where org_id = p_org and id = pl.invoice_id for update;
    v_amount := (v_object ->> 'amount_total')::bigint;
    insert into app.payments (org_id, invoice_id, customer_id, method, amount, currency, received_on, reference,
                              provider_payment_id, staff_user_id)
    select p_org, i.id, i.customer_id, 'stripe', v_amount, pg_catalog.upper(v_object ->> 'currency'),
           (pg_catalog.now() at time zone o.timezone)::date, v_object ->> 'id',
           coalesce(v_object ->> 'payment_intent', v_object ->> 'id'), i.staff_user_id
      from app.organisations o where o.id = p_org
    on conflict (org_id, provider_payment_id) do nothing
    returning * into pm;
    if pm.id is null then
      return pg_catalog.jsonb_build_object('received', true, 'duplicate', true);
    end if;
    update app.payment_links set status = 'paid', updated_at = pg_catalog.now() where org_id = p_org and id = pl.id;
    -- Money that came in beyond what was owed (paid twice, or by hand meanwhile) is the
    -- customer's credit, not lost.
    v_due := case when i.status in ('open', 'uncollectible') then app.invoice_amount_due(i) else 0 end;
    if v_amount > v_due then
      insert into app.customer_balance_entries (org_id, customer_id, currency, amount, source_kind, source_id)
      values (p_org, i.customer_id, pm.currency, v_amount - v_due, 'overpayment', pm.id);
    end if;
    perform app.settle_invoice(i.id, v_amount, 0, greatest(v_amount - v_due, 0));
    return pg_catalog.jsonb_build_object('received', true, 'paymentId', pm.id);
  elsif v_event ->> 'type' = 'charge.refunded' then
    select * into pm from app.payments
     where org_id = p_org and provider_payment_id = coalesce(v_object ->> 'payment_intent', v_object ->> 'id');
    if not found then
      return pg_catalog.jsonb_build_object('received', true, 'ignored', 'unknown payment');
    end if;
    select * into i from app.invoices where org_id = p_org and id = pm.invoice_id for update;
    for v_refund in select * from pg_catalog.jsonb_array_elements(coalesce(v_object #> '{refunds,data}', '[]')) loop
      continue when v_refund ->> 'status' in ('failed', 'canceled');
      continue when exists (select from app.refunds x where x.org_id = p_org and x.provider_refund_id = v_refund ->> 'id');
      -- One favcrm asked for and has not heard back about: now it has.
      update app.refunds set status = 'succeeded', provider_refund_id = v_refund ->> 'id', updated_at = pg_catalog.now()
       where org_id = p_org and id = (v_refund #>> '{metadata,favcrm_refund_id}')::uuid and status = 'pending'
      returning * into r;
      continue when found;
      -- One made in Stripe's dashboard.
      select * into pm from app.payments where org_id = p_org and id = pm.id;
      v_amount := least((v_refund ->> 'amount')::bigint, pm.amount - pm.amount_refunded);
      continue when v_amount <= 0;
      insert into app.refunds (org_id, payment_id, invoice_id, amount, currency, reason, provider_refund_id,
                               staff_user_id)
      values (p_org, pm.id, pm.invoice_id, v_amount, pm.currency, 'refunded in Stripe', v_refund ->> 'id',
              pm.staff_user_id);
      update app.payments set amount_refunded = amount_refunded + v_amount where org_id = p_org and id = pm.id;
      perform app.settle_invoice(i.id, -v_amount, 0, 0);
    end loop;
    return pg_catalog.jsonb_build_object('received', true);
  end if;
  return pg_catalog.jsonb_build_object('received', true, 'ignored', v_event ->> 'type');
end
$$;
comment on function auth.record_stripe_event(uuid, text, text, text) is 'Records a Stripe event for an organisation once: checks the signature again with the secret the server verified it with, then a paid Checkout Session becomes a payment (exactly once per payment intent; what exceeds the amount due goes to the credit balance) and charge.refunded records the refunds not yet known.';
revoke all on function auth.record_stripe_event(uuid, text, text, text) from public;
grant execute on function auth.record_stripe_event(uuid, text, text, text) to favcrm_anon;

-- ---------------------------------------------------------------------------------------
-- Bookings meet billing
-- ---------------------------------------------------------------------------------------
-- A draft invoice of one customer for the fees of some bookings (late cancellations,
-- no-shows), finalised at once if asked.
create function api.invoice_booking_fees(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  b app.bookings;
  i app.invoices;
  v_booking jsonb;
  v_n int := 0;
begin
  perform app.require_billing_role('manager', 'create invoices');
  select * into b from app.bookings where org_id = auth.org_id() and id = (p #>> '{bookingIds,0}')::uuid;
  if not found then
    perform app.not_found('booking', 'bookingIds[0]');
  end if;
  insert into app.invoices (org_id, customer_id, series, currency, memo, created_by)
  select b.org_id, b.customer_id, o.invoice_prefix, b.currency, p ->> 'memo', auth.user_id()
    from app.organisations o where o.id = b.org_id
  returning * into i;
  for v_booking in select * from pg_catalog.jsonb_array_elements(p -> 'bookingIds') loop
    perform app.add_line(i, pg_catalog.jsonb_build_object('bookingId', v_booking, 'fee', true),
                         pg_catalog.format('bookingIds[%s].', v_n));
    select * into i from app.invoices where org_id = i.org_id and id = i.id;
    v_n := v_n + 1;
  end loop;
  i := app.total_invoice(i);
  if coalesce((p ->> 'finalize')::boolean, false) then
    return api.finalize_invoice(pg_catalog.jsonb_build_object('invoiceId', i.id));
  end if;
  return app.invoice_json(i);
end
$$;
comment on function api.invoice_booking_fees(jsonb) is 'Bills the late-cancellation and no-show fees of one customer''s bookings on a new draft invoice (finalised at once with finalize), each booking linked to it.';
grant execute on function api.invoice_booking_fees(jsonb) to favcrm_member;

-- Called by complete_booking, cancel_booking and mark_no_show after the status changed: when
-- the service says so, a booking not billed yet gets a draft invoice for its price (completed)
-- or its fee (a late cancellation or a no-show with a fee). SECURITY DEFINER because staff
-- complete bookings but never write billing; it acts only on the caller's organisation's
-- booking and only by the service's own setting. Returns the invoice's id, or NULL.
create function auth.bill_booking(p_booking uuid) returns uuid
language plpgsql security definer set search_path = '' as $$
declare
  b app.bookings;
  s app.services;
  i app.invoices;
  v_fee boolean;
begin
  select * into b from app.bookings where org_id = auth.org_id() and id = p_booking;
  if not found or b.invoice_id is not null then
    return null;
  end if;
  select * into s from app.services where org_id = b.org_id and id = b.service_id;
  if b.status = 'completed' and s.invoice_on_complete and b.price_amount > 0 and b.credit_grant_id is null then
    v_fee := false;
  elsif b.status in ('cancelled', 'no_show') and s.invoice_fees and coalesce(b.fee_amount, 0) > 0 then
    v_fee := true;
  else
    return null;
  end if;
  insert into app.invoices (org_id, customer_id, series, currency, staff_user_id, created_by)
  select b.org_id, b.customer_id, o.invoice_prefix, b.currency, b.staff_user_id, auth.user_id()
    from app.organisations o where o.id = b.org_id
  returning * into i;
  perform app.add_line(i, pg_catalog.jsonb_build_object('bookingId', b.id, 'fee', v_fee), '');
  select * into i from app.invoices where org_id = i.org_id and id = i.id;
  perform app.total_invoice(i);
  return i.id;
end
$$;
comment on function auth.bill_booking(uuid) is 'Starts a draft invoice for a booking when its service says so: its price once completed, its fee after a late cancellation or no-show. Acts for the claimed organisation only.';
revoke all on function auth.bill_booking(uuid) from public;
grant execute on function auth.bill_booking(uuid) to favcrm_member;
