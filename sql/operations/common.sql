-- Helpers every area shares: timestamps, refusals, cursors and pages, input normalisation,
-- countries and money. Re-applied on every start (see sql/README.md).

-- ISO-8601 UTC rendering used in every JSON result: 2026-01-31T09:30:00.000Z. STABLE, as
-- to_char is: a SQL function is inlined into its caller only when it claims no more than its
-- body, and inlined it costs half as much (a page of 25 customers, 104 timestamps: 6,900 → 15,400
-- transactions/s in pgbench).
create function app.ts(t timestamptz) returns text
language sql stable parallel safe as $$
  select pg_catalog.to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;
comment on function app.ts(timestamptz) is 'Formats a timestamp as ISO 8601 in UTC with millisecond precision and a Z suffix.';
grant execute on function app.ts(timestamptz) to favcrm_member, favcrm_anon;

-- Small input helpers shared by api functions.
create function app.raise_invalid(p_field text, p_code text, p_message text) returns void
language plpgsql volatile set search_path = '' as $$
begin
  raise exception using errcode = '22023', column = p_field, hint = p_code, message = p_message;
end
$$;
comment on function app.raise_invalid(text, text, text) is 'Raises 22023 (HTTP 422) naming the field at fault and a stable code.';
grant execute on function app.raise_invalid(text, text, text) to favcrm_member, favcrm_anon;

create function app.not_found(p_what text, p_field text default null) returns void
language plpgsql volatile set search_path = '' as $$
begin
  if p_field is null then
    raise exception using errcode = 'P0002', hint = 'not_found',
      message = pg_catalog.format('No %s with that id exists in this organisation.', p_what);
  end if;
  raise exception using errcode = 'P0002', hint = 'not_found', column = p_field,
    message = pg_catalog.format('No %s with that id exists in this organisation.', p_what);
end
$$;
comment on function app.not_found(text, text) is 'Raises P0002 (HTTP 404) not_found for the named kind of thing, naming the input field that referred to it when given.';
grant execute on function app.not_found(text, text) to favcrm_member, favcrm_anon;

create function app.is_timezone(p_tz text) returns boolean
language sql stable as $$
  select exists (select from pg_catalog.pg_timezone_names where name = p_tz)
$$;
comment on function app.is_timezone(text) is 'Whether the text is an IANA time zone name PostgreSQL knows.';
grant execute on function app.is_timezone(text) to favcrm_member, favcrm_anon;

-- Opaque keyset cursors: base64 of the last row's id.
create function app.encode_cursor(p_id uuid) returns text
language sql immutable parallel safe as $$
  select pg_catalog.translate(pg_catalog.encode(pg_catalog.uuid_send(p_id), 'base64'), '+/=', '-_')
$$;
comment on function app.encode_cursor(uuid) is 'Encodes a keyset position as an opaque URL-safe cursor.';
grant execute on function app.encode_cursor(uuid) to favcrm_member, favcrm_anon;

create function app.decode_cursor(p_cursor text) returns uuid
language plpgsql stable set search_path = '' as $$
declare
  v_bytes bytea;
begin
  if p_cursor is null then
    return null;
  end if;
  begin
    v_bytes := pg_catalog.decode(pg_catalog.translate(p_cursor, '-_', '+/') || '==', 'base64');
  exception when others then
    v_bytes := null;
  end;
  if v_bytes is null or pg_catalog.length(v_bytes) <> 16 then
    perform app.raise_invalid('cursor', 'invalid_cursor', 'The cursor is not one this API returned.');
  end if;
  return pg_catalog.encode(v_bytes, 'hex')::uuid;
end
$$;
comment on function app.decode_cursor(text) is 'Decodes a cursor made by app.encode_cursor, raising invalid_cursor (422) otherwise.';
grant execute on function app.decode_cursor(text) to favcrm_member, favcrm_anon;

create function app.page_limit(p jsonb) returns int
language plpgsql stable set search_path = '' as $$
declare
  v_limit int := coalesce((p ->> 'limit')::int, 25);
begin
  if v_limit < 1 or v_limit > 100 then
    perform app.raise_invalid('limit', 'out_of_range', 'limit must be between 1 and 100.');
  end if;
  return v_limit;
end
$$;
comment on function app.page_limit(jsonb) is 'The page size asked for (default 25, 1 to 100).';
grant execute on function app.page_limit(jsonb) to favcrm_member, favcrm_anon;

-- One page of a keyset-paginated list. The caller fetches limit + 1 rows, newest first; the
-- extra row only tells that there is a next page.
create function app.page(p_items jsonb[], p_ids uuid[], p_limit int) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'items', coalesce(pg_catalog.to_jsonb(p_items[1:p_limit]), '[]'::jsonb),
    'nextCursor', case when coalesce(pg_catalog.cardinality(p_ids), 0) > p_limit
                       then app.encode_cursor(p_ids[p_limit]) end)
$$;
comment on function app.page(jsonb[], uuid[], int) is 'Builds {items, nextCursor} from up to limit + 1 rows fetched newest first.';
grant execute on function app.page(jsonb[], uuid[], int) to favcrm_member, favcrm_anon;

-- A page built in one pass, as json (sent as built, with no binary round trip through jsonb):
-- the caller numbers up to limit + 1 rows newest first (row_number), aggregates the first limit
-- as items and passes the last item's id and whether the extra row came. New list operations
-- use this one; api.list_customers shows the query. Each parameter is used once, so PostgreSQL
-- inlines this into the caller's query. The page builders are STABLE because json_build_object
-- is: declared IMMUTABLE they were never inlined and cost a SQL function call per page (a page
-- of 25 customers: about 40 us of 180).
create function app.page_json(p_items json, p_last uuid, p_more boolean) returns json
language sql stable parallel safe as $$
  select pg_catalog.json_build_object(
    'items', coalesce(p_items, '[]'::json),
    'nextCursor', case when p_more then app.encode_cursor(p_last) end)
$$;
comment on function app.page_json(json, uuid, boolean) is 'Builds {items, nextCursor} from a page''s items, the id of its last item and whether more follow.';
grant execute on function app.page_json(json, uuid, boolean) to favcrm_member, favcrm_anon;

create function app.normalize_phone(p_phone text) returns text
language sql immutable parallel safe as $$
  select nullif(pg_catalog.regexp_replace(pg_catalog.btrim(p_phone), '[[:space:]().-]', '', 'g'), '')
$$;
comment on function app.normalize_phone(text) is 'Removes spaces, dots, dashes and brackets from a phone number.';
grant execute on function app.normalize_phone(text) to favcrm_member;

create function app.normalize_email(p_email text) returns text
language sql immutable parallel safe as $$
  select nullif(pg_catalog.lower(pg_catalog.btrim(p_email)), '')
$$;
comment on function app.normalize_email(text) is 'Trims and lower-cases an email address.';
grant execute on function app.normalize_email(text) to favcrm_member;

create function app.normalize_tags(p_tags jsonb) returns text[]
language plpgsql immutable set search_path = '' as $$
declare
  v_tags text[];
begin
  if p_tags is null or p_tags = 'null'::jsonb then
    return '{}';
  end if;
  if pg_catalog.jsonb_typeof(p_tags) <> 'array' then
    perform app.raise_invalid('tags', 'invalid_type', 'tags must be an array of strings.');
  end if;
  select coalesce(array_agg(distinct t order by t), '{}') into v_tags
    from (select pg_catalog.lower(pg_catalog.btrim(e)) as t from pg_catalog.jsonb_array_elements_text(p_tags) e) s;
  if exists (select from pg_catalog.unnest(v_tags) t where pg_catalog.char_length(t) not between 1 and 50) then
    perform app.raise_invalid('tags', 'invalid_tag', 'Each tag must be 1 to 50 characters.');
  end if;
  return v_tags;
end
$$;
comment on function app.normalize_tags(jsonb) is 'Turns a JSON array of tags into a sorted, lower-case, duplicate-free text[].';
grant execute on function app.normalize_tags(jsonb) to favcrm_member;

create function app.escape_like(p text) returns text
language sql immutable parallel safe as $$
  select pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(p, '\', '\\'), '%', '\%'), '_', '\_')
$$;
comment on function app.escape_like(text) is 'Escapes LIKE wildcards so user text matches literally.';
grant execute on function app.escape_like(text) to favcrm_member;

-- Countries: ISO 3166-1 alpha-2 with the currency in use (CLDR) and a default IANA zone.
-- The body is generated by sql/tools/countries.py.
create function app.country(p_code text) returns table (code text, name text, currency text, timezone text)
language sql immutable parallel safe as $$
  select c.code, c.name, c.currency, c.timezone from (values
    ('AD', 'Andorra', 'EUR', 'Europe/Andorra'),
    ('AE', 'United Arab Emirates', 'AED', 'Asia/Dubai'),
    ('AF', 'Afghanistan', 'AFN', 'Asia/Kabul'),
    ('AG', 'Antigua and Barbuda', 'XCD', 'America/Antigua'),
    ('AI', 'Anguilla', 'XCD', 'America/Anguilla'),
    ('AL', 'Albania', 'ALL', 'Europe/Tirane'),
    ('AM', 'Armenia', 'AMD', 'Asia/Yerevan'),
    ('AO', 'Angola', 'AOA', 'Africa/Luanda'),
    ('AQ', 'Antarctica', null, 'Antarctica/McMurdo'),
    ('AR', 'Argentina', 'ARS', 'America/Argentina/Buenos_Aires'),
    ('AS', 'American Samoa', 'USD', 'Pacific/Pago_Pago'),
    ('AT', 'Austria', 'EUR', 'Europe/Vienna'),
    ('AU', 'Australia', 'AUD', 'Australia/Sydney'),
    ('AW', 'Aruba', 'AWG', 'America/Aruba'),
    ('AX', 'Åland Islands', 'EUR', 'Europe/Mariehamn'),
    ('AZ', 'Azerbaijan', 'AZN', 'Asia/Baku'),
    ('BA', 'Bosnia and Herzegovina', 'BAM', 'Europe/Sarajevo'),
    ('BB', 'Barbados', 'BBD', 'America/Barbados'),
    ('BD', 'Bangladesh', 'BDT', 'Asia/Dhaka'),
    ('BE', 'Belgium', 'EUR', 'Europe/Brussels'),
    ('BF', 'Burkina Faso', 'XOF', 'Africa/Ouagadougou'),
    ('BG', 'Bulgaria', 'EUR', 'Europe/Sofia'),
    ('BH', 'Bahrain', 'BHD', 'Asia/Bahrain'),
    ('BI', 'Burundi', 'BIF', 'Africa/Bujumbura'),
    ('BJ', 'Benin', 'XOF', 'Africa/Porto-Novo'),
    ('BL', 'Saint Barthélemy', 'EUR', 'America/St_Barthelemy'),
    ('BM', 'Bermuda', 'BMD', 'Atlantic/Bermuda'),
    ('BN', 'Brunei Darussalam', 'BND', 'Asia/Brunei'),
    ('BO', 'Bolivia', 'BOB', 'America/La_Paz'),
    ('BQ', 'Bonaire, Sint Eustatius and Saba', 'USD', 'America/Kralendijk'),
    ('BR', 'Brazil', 'BRL', 'America/Sao_Paulo'),
    ('BS', 'Bahamas', 'BSD', 'America/Nassau'),
    ('BT', 'Bhutan', 'INR', 'Asia/Thimphu'),
    ('BV', 'Bouvet Island', 'NOK', null),
    ('BW', 'Botswana', 'BWP', 'Africa/Gaborone'),
    ('BY', 'Belarus', 'BYN', 'Europe/Minsk'),
    ('BZ', 'Belize', 'BZD', 'America/Belize'),
    ('CA', 'Canada', 'CAD', 'America/Toronto'),
    ('CC', 'Cocos (Keeling) Islands', 'AUD', 'Indian/Cocos'),
    ('CD', 'Congo, The Democratic Republic of the', 'CDF', 'Africa/Kinshasa'),
    ('CF', 'Central African Republic', 'XAF', 'Africa/Bangui'),
    ('CG', 'Congo', 'XAF', 'Africa/Brazzaville'),
    ('CH', 'Switzerland', 'CHF', 'Europe/Zurich'),
    ('CI', 'Côte d''Ivoire', 'XOF', 'Africa/Abidjan'),
    ('CK', 'Cook Islands', 'NZD', 'Pacific/Rarotonga'),
    ('CL', 'Chile', 'CLP', 'America/Santiago'),
    ('CM', 'Cameroon', 'XAF', 'Africa/Douala'),
    ('CN', 'China', 'CNY', 'Asia/Shanghai'),
    ('CO', 'Colombia', 'COP', 'America/Bogota'),
    ('CR', 'Costa Rica', 'CRC', 'America/Costa_Rica'),
    ('CU', 'Cuba', 'CUP', 'America/Havana'),
    ('CV', 'Cabo Verde', 'CVE', 'Atlantic/Cape_Verde'),
    ('CW', 'Curaçao', 'XCG', 'America/Curacao'),
    ('CX', 'Christmas Island', 'AUD', 'Indian/Christmas'),
    ('CY', 'Cyprus', 'EUR', 'Asia/Nicosia'),
    ('CZ', 'Czechia', 'CZK', 'Europe/Prague'),
    ('DE', 'Germany', 'EUR', 'Europe/Berlin'),
    ('DJ', 'Djibouti', 'DJF', 'Africa/Djibouti'),
    ('DK', 'Denmark', 'DKK', 'Europe/Copenhagen'),
    ('DM', 'Dominica', 'XCD', 'America/Dominica'),
    ('DO', 'Dominican Republic', 'DOP', 'America/Santo_Domingo'),
    ('DZ', 'Algeria', 'DZD', 'Africa/Algiers'),
    ('EC', 'Ecuador', 'USD', 'America/Guayaquil'),
    ('EE', 'Estonia', 'EUR', 'Europe/Tallinn'),
    ('EG', 'Egypt', 'EGP', 'Africa/Cairo'),
    ('EH', 'Western Sahara', 'MAD', 'Africa/El_Aaiun'),
    ('ER', 'Eritrea', 'ERN', 'Africa/Asmara'),
    ('ES', 'Spain', 'EUR', 'Europe/Madrid'),
    ('ET', 'Ethiopia', 'ETB', 'Africa/Addis_Ababa'),
    ('FI', 'Finland', 'EUR', 'Europe/Helsinki'),
    ('FJ', 'Fiji', 'FJD', 'Pacific/Fiji'),
    ('FK', 'Falkland Islands (Malvinas)', 'FKP', 'Atlantic/Stanley'),
    ('FM', 'Micronesia, Federated States of', 'USD', 'Pacific/Pohnpei'),
    ('FO', 'Faroe Islands', 'DKK', 'Atlantic/Faroe'),
    ('FR', 'France', 'EUR', 'Europe/Paris'),
    ('GA', 'Gabon', 'XAF', 'Africa/Libreville'),
    ('GB', 'United Kingdom', 'GBP', 'Europe/London'),
    ('GD', 'Grenada', 'XCD', 'America/Grenada'),
    ('GE', 'Georgia', 'GEL', 'Asia/Tbilisi'),
    ('GF', 'French Guiana', 'EUR', 'America/Cayenne'),
    ('GG', 'Guernsey', 'GBP', 'Europe/Guernsey'),
    ('GH', 'Ghana', 'GHS', 'Africa/Accra'),
    ('GI', 'Gibraltar', 'GIP', 'Europe/Gibraltar'),
    ('GL', 'Greenland', 'DKK', 'America/Nuuk'),
    ('GM', 'Gambia', 'GMD', 'Africa/Banjul'),
    ('GN', 'Guinea', 'GNF', 'Africa/Conakry'),
    ('GP', 'Guadeloupe', 'EUR', 'America/Guadeloupe'),
    ('GQ', 'Equatorial Guinea', 'XAF', 'Africa/Malabo'),
    ('GR', 'Greece', 'EUR', 'Europe/Athens'),
    ('GS', 'South Georgia and the South Sandwich Islands', 'GBP', 'Atlantic/South_Georgia'),
    ('GT', 'Guatemala', 'GTQ', 'America/Guatemala'),
    ('GU', 'Guam', 'USD', 'Pacific/Guam'),
    ('GW', 'Guinea-Bissau', 'XOF', 'Africa/Bissau'),
    ('GY', 'Guyana', 'GYD', 'America/Guyana'),
    ('HK', 'Hong Kong', 'HKD', 'Asia/Hong_Kong'),
    ('HM', 'Heard Island and McDonald Islands', 'AUD', null),
    ('HN', 'Honduras', 'HNL', 'America/Tegucigalpa'),
    ('HR', 'Croatia', 'EUR', 'Europe/Zagreb'),
    ('HT', 'Haiti', 'HTG', 'America/Port-au-Prince'),
    ('HU', 'Hungary', 'HUF', 'Europe/Budapest'),
    ('ID', 'Indonesia', 'IDR', 'Asia/Jakarta'),
    ('IE', 'Ireland', 'EUR', 'Europe/Dublin'),
    ('IL', 'Israel', 'ILS', 'Asia/Jerusalem'),
    ('IM', 'Isle of Man', 'GBP', 'Europe/Isle_of_Man'),
    ('IN', 'India', 'INR', 'Asia/Kolkata'),
    ('IO', 'British Indian Ocean Territory', 'USD', 'Indian/Chagos'),
    ('IQ', 'Iraq', 'IQD', 'Asia/Baghdad'),
    ('IR', 'Iran', 'IRR', 'Asia/Tehran'),
    ('IS', 'Iceland', 'ISK', 'Atlantic/Reykjavik'),
    ('IT', 'Italy', 'EUR', 'Europe/Rome'),
    ('JE', 'Jersey', 'GBP', 'Europe/Jersey'),
    ('JM', 'Jamaica', 'JMD', 'America/Jamaica'),
    ('JO', 'Jordan', 'JOD', 'Asia/Amman'),
    ('JP', 'Japan', 'JPY', 'Asia/Tokyo'),
    ('KE', 'Kenya', 'KES', 'Africa/Nairobi'),
    ('KG', 'Kyrgyzstan', 'KGS', 'Asia/Bishkek'),
    ('KH', 'Cambodia', 'KHR', 'Asia/Phnom_Penh'),
    ('KI', 'Kiribati', 'AUD', 'Pacific/Tarawa'),
    ('KM', 'Comoros', 'KMF', 'Indian/Comoro'),
    ('KN', 'Saint Kitts and Nevis', 'XCD', 'America/St_Kitts'),
    ('KP', 'North Korea', 'KPW', 'Asia/Pyongyang'),
    ('KR', 'South Korea', 'KRW', 'Asia/Seoul'),
    ('KW', 'Kuwait', 'KWD', 'Asia/Kuwait'),
    ('KY', 'Cayman Islands', 'KYD', 'America/Cayman'),
    ('KZ', 'Kazakhstan', 'KZT', 'Asia/Almaty'),
    ('LA', 'Laos', 'LAK', 'Asia/Vientiane'),
    ('LB', 'Lebanon', 'LBP', 'Asia/Beirut'),
    ('LC', 'Saint Lucia', 'XCD', 'America/St_Lucia'),
    ('LI', 'Liechtenstein', 'CHF', 'Europe/Vaduz'),
    ('LK', 'Sri Lanka', 'LKR', 'Asia/Colombo'),
    ('LR', 'Liberia', 'LRD', 'Africa/Monrovia'),
    ('LS', 'Lesotho', 'ZAR', 'Africa/Maseru'),
    ('LT', 'Lithuania', 'EUR', 'Europe/Vilnius'),
    ('LU', 'Luxembourg', 'EUR', 'Europe/Luxembourg'),
    ('LV', 'Latvia', 'EUR', 'Europe/Riga'),
    ('LY', 'Libya', 'LYD', 'Africa/Tripoli'),
    ('MA', 'Morocco', 'MAD', 'Africa/Casablanca'),
    ('MC', 'Monaco', 'EUR', 'Europe/Monaco'),
    ('MD', 'Moldova', 'MDL', 'Europe/Chisinau'),
    ('ME', 'Montenegro', 'EUR', 'Europe/Podgorica'),
    ('MF', 'Saint Martin (French part)', 'EUR', 'America/Marigot'),
    ('MG', 'Madagascar', 'MGA', 'Indian/Antananarivo'),
    ('MH', 'Marshall Islands', 'USD', 'Pacific/Majuro'),
    ('MK', 'North Macedonia', 'MKD', 'Europe/Skopje'),
    ('ML', 'Mali', 'XOF', 'Africa/Bamako'),
    ('MM', 'Myanmar', 'MMK', 'Asia/Yangon'),
    ('MN', 'Mongolia', 'MNT', 'Asia/Ulaanbaatar'),
    ('MO', 'Macao', 'MOP', 'Asia/Macau'),
    ('MP', 'Northern Mariana Islands', 'USD', 'Pacific/Saipan'),
    ('MQ', 'Martinique', 'EUR', 'America/Martinique'),
    ('MR', 'Mauritania', 'MRU', 'Africa/Nouakchott'),
    ('MS', 'Montserrat', 'XCD', 'America/Montserrat'),
    ('MT', 'Malta', 'EUR', 'Europe/Malta'),
    ('MU', 'Mauritius', 'MUR', 'Indian/Mauritius'),
    ('MV', 'Maldives', 'MVR', 'Indian/Maldives'),
    ('MW', 'Malawi', 'MWK', 'Africa/Blantyre'),
    ('MX', 'Mexico', 'MXN', 'America/Mexico_City'),
    ('MY', 'Malaysia', 'MYR', 'Asia/Kuala_Lumpur'),
    ('MZ', 'Mozambique', 'MZN', 'Africa/Maputo'),
    ('NA', 'Namibia', 'ZAR', 'Africa/Windhoek'),
    ('NC', 'New Caledonia', 'XPF', 'Pacific/Noumea'),
    ('NE', 'Niger', 'XOF', 'Africa/Niamey'),
    ('NF', 'Norfolk Island', 'AUD', 'Pacific/Norfolk'),
    ('NG', 'Nigeria', 'NGN', 'Africa/Lagos'),
    ('NI', 'Nicaragua', 'NIO', 'America/Managua'),
    ('NL', 'Netherlands', 'EUR', 'Europe/Amsterdam'),
    ('NO', 'Norway', 'NOK', 'Europe/Oslo'),
    ('NP', 'Nepal', 'NPR', 'Asia/Kathmandu'),
    ('NR', 'Nauru', 'AUD', 'Pacific/Nauru'),
    ('NU', 'Niue', 'NZD', 'Pacific/Niue'),
    ('NZ', 'New Zealand', 'NZD', 'Pacific/Auckland'),
    ('OM', 'Oman', 'OMR', 'Asia/Muscat'),
    ('PA', 'Panama', 'PAB', 'America/Panama'),
    ('PE', 'Peru', 'PEN', 'America/Lima'),
    ('PF', 'French Polynesia', 'XPF', 'Pacific/Tahiti'),
    ('PG', 'Papua New Guinea', 'PGK', 'Pacific/Port_Moresby'),
    ('PH', 'Philippines', 'PHP', 'Asia/Manila'),
    ('PK', 'Pakistan', 'PKR', 'Asia/Karachi'),
    ('PL', 'Poland', 'PLN', 'Europe/Warsaw'),
    ('PM', 'Saint Pierre and Miquelon', 'EUR', 'America/Miquelon'),
    ('PN', 'Pitcairn', 'NZD', 'Pacific/Pitcairn'),
    ('PR', 'Puerto Rico', 'USD', 'America/Puerto_Rico'),
    ('PS', 'Palestine, State of', 'ILS', 'Asia/Gaza'),
    ('PT', 'Portugal', 'EUR', 'Europe/Lisbon'),
    ('PW', 'Palau', 'USD', 'Pacific/Palau'),
    ('PY', 'Paraguay', 'PYG', 'America/Asuncion'),
    ('QA', 'Qatar', 'QAR', 'Asia/Qatar'),
    ('RE', 'Réunion', 'EUR', 'Indian/Reunion'),
    ('RO', 'Romania', 'RON', 'Europe/Bucharest'),
    ('RS', 'Serbia', 'RSD', 'Europe/Belgrade'),
    ('RU', 'Russian Federation', 'RUB', 'Europe/Moscow'),
    ('RW', 'Rwanda', 'RWF', 'Africa/Kigali'),
    ('SA', 'Saudi Arabia', 'SAR', 'Asia/Riyadh'),
    ('SB', 'Solomon Islands', 'SBD', 'Pacific/Guadalcanal'),
    ('SC', 'Seychelles', 'SCR', 'Indian/Mahe'),
    ('SD', 'Sudan', 'SDG', 'Africa/Khartoum'),
    ('SE', 'Sweden', 'SEK', 'Europe/Stockholm'),
    ('SG', 'Singapore', 'SGD', 'Asia/Singapore'),
    ('SH', 'Saint Helena, Ascension and Tristan da Cunha', 'SHP', 'Atlantic/St_Helena'),
    ('SI', 'Slovenia', 'EUR', 'Europe/Ljubljana'),
    ('SJ', 'Svalbard and Jan Mayen', 'NOK', 'Arctic/Longyearbyen'),
    ('SK', 'Slovakia', 'EUR', 'Europe/Bratislava'),
    ('SL', 'Sierra Leone', 'SLE', 'Africa/Freetown'),
    ('SM', 'San Marino', 'EUR', 'Europe/San_Marino'),
    ('SN', 'Senegal', 'XOF', 'Africa/Dakar'),
    ('SO', 'Somalia', 'SOS', 'Africa/Mogadishu'),
    ('SR', 'Suriname', 'SRD', 'America/Paramaribo'),
    ('SS', 'South Sudan', 'SSP', 'Africa/Juba'),
    ('ST', 'Sao Tome and Principe', 'STN', 'Africa/Sao_Tome'),
    ('SV', 'El Salvador', 'USD', 'America/El_Salvador'),
    ('SX', 'Sint Maarten (Dutch part)', 'XCG', 'America/Lower_Princes'),
    ('SY', 'Syria', 'SYP', 'Asia/Damascus'),
    ('SZ', 'Eswatini', 'SZL', 'Africa/Mbabane'),
    ('TC', 'Turks and Caicos Islands', 'USD', 'America/Grand_Turk'),
    ('TD', 'Chad', 'XAF', 'Africa/Ndjamena'),
    ('TF', 'French Southern Territories', 'EUR', 'Indian/Kerguelen'),
    ('TG', 'Togo', 'XOF', 'Africa/Lome'),
    ('TH', 'Thailand', 'THB', 'Asia/Bangkok'),
    ('TJ', 'Tajikistan', 'TJS', 'Asia/Dushanbe'),
    ('TK', 'Tokelau', 'NZD', 'Pacific/Fakaofo'),
    ('TL', 'Timor-Leste', 'USD', 'Asia/Dili'),
    ('TM', 'Turkmenistan', 'TMT', 'Asia/Ashgabat'),
    ('TN', 'Tunisia', 'TND', 'Africa/Tunis'),
    ('TO', 'Tonga', 'TOP', 'Pacific/Tongatapu'),
    ('TR', 'Türkiye', 'TRY', 'Europe/Istanbul'),
    ('TT', 'Trinidad and Tobago', 'TTD', 'America/Port_of_Spain'),
    ('TV', 'Tuvalu', 'AUD', 'Pacific/Funafuti'),
    ('TW', 'Taiwan', 'TWD', 'Asia/Taipei'),
    ('TZ', 'Tanzania', 'TZS', 'Africa/Dar_es_Salaam'),
    ('UA', 'Ukraine', 'UAH', 'Europe/Kyiv'),
    ('UG', 'Uganda', 'UGX', 'Africa/Kampala'),
    ('UM', 'United States Minor Outlying Islands', 'USD', 'Pacific/Midway'),
    ('US', 'United States', 'USD', 'America/New_York'),
    ('UY', 'Uruguay', 'UYU', 'America/Montevideo'),
    ('UZ', 'Uzbekistan', 'UZS', 'Asia/Tashkent'),
    ('VA', 'Holy See (Vatican City State)', 'EUR', 'Europe/Vatican'),
    ('VC', 'Saint Vincent and the Grenadines', 'XCD', 'America/St_Vincent'),
    ('VE', 'Venezuela', 'VES', 'America/Caracas'),
    ('VG', 'Virgin Islands, British', 'USD', 'America/Tortola'),
    ('VI', 'Virgin Islands, U.S.', 'USD', 'America/St_Thomas'),
    ('VN', 'Vietnam', 'VND', 'Asia/Ho_Chi_Minh'),
    ('VU', 'Vanuatu', 'VUV', 'Pacific/Efate'),
    ('WF', 'Wallis and Futuna', 'XPF', 'Pacific/Wallis'),
    ('WS', 'Samoa', 'WST', 'Pacific/Apia'),
    ('YE', 'Yemen', 'YER', 'Asia/Aden'),
    ('YT', 'Mayotte', 'EUR', 'Indian/Mayotte'),
    ('ZA', 'South Africa', 'ZAR', 'Africa/Johannesburg'),
    ('ZM', 'Zambia', 'ZMW', 'Africa/Lusaka'),
    ('ZW', 'Zimbabwe', 'USD', 'Africa/Harare')
  ) c (code, name, currency, timezone)
  where c.code = p_code
$$;
comment on function app.country(text) is 'The ISO 3166-1 country with this alpha-2 code: English name, currency in use and default IANA time zone (no row for an unknown code).';
grant execute on function app.country(text) to favcrm_member, favcrm_anon;

-- STABLE, as jsonb_build_object is: declared IMMUTABLE around it, PostgreSQL would not inline
-- it and called it as a function, planned afresh in every transaction.
create function app.money(p_amount bigint, p_currency text) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object('amount', p_amount, 'currency', p_currency)
$$;
comment on function app.money(bigint, text) is 'Money as {amount (integer minor units), currency (ISO 4217)}.';
grant execute on function app.money(bigint, text) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- References every area checks
-- ---------------------------------------------------------------------------------------
create function app.require_customer(p_id uuid) returns void
language plpgsql stable set search_path = '' as $$
begin
  if not exists (select from app.customers c where c.org_id = auth.org_id() and c.id = p_id) then
    perform app.not_found('customer', 'customerId');
  end if;
end
$$;
comment on function app.require_customer(uuid) is 'Raises not_found naming customerId unless the customer exists in the organisation (deleted ones too: their history stays readable).';
grant execute on function app.require_customer(uuid) to favcrm_member;

create function app.require_live_customer(p_id uuid) returns void
language plpgsql stable set search_path = '' as $$
begin
  if not exists (select from app.customers c where c.org_id = auth.org_id() and c.id = p_id and c.deleted_at is null) then
    perform app.not_found('live customer', 'customerId');
  end if;
end
$$;
comment on function app.require_live_customer(uuid) is 'Raises not_found naming customerId unless the customer exists in the organisation and is not deleted.';
grant execute on function app.require_live_customer(uuid) to favcrm_member;

create function app.require_services(p_ids jsonb, p_field text) returns uuid[]
language plpgsql stable set search_path = '' as $$
declare
  v_ids uuid[];
  v_n int := 0;
  v_id uuid;
begin
  if p_ids is null or p_ids = 'null'::jsonb then
    return null;
  end if;
  for v_id in select (x #>> '{}')::uuid from pg_catalog.jsonb_array_elements(p_ids) x loop
    if not exists (select from app.services s where s.org_id = auth.org_id() and s.id = v_id) then
      perform app.not_found('service', pg_catalog.format('%s[%s]', p_field, v_n));
    end if;
    v_n := v_n + 1;
  end loop;
  v_ids := array(select distinct (x #>> '{}')::uuid from pg_catalog.jsonb_array_elements(p_ids) x order by 1);
  if pg_catalog.cardinality(v_ids) = 0 then
    perform app.raise_invalid(p_field, 'empty_services', 'Name at least one service, or leave the list out for all.');
  end if;
  return v_ids;
end
$$;
comment on function app.require_services(jsonb, text) is 'The distinct service ids of a JSON array (NULL for none given: every service), each checked to be the organisation''s.';
grant execute on function app.require_services(jsonb, text) to favcrm_member;
