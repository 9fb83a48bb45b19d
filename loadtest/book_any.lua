-- wrk script: POST /v1/bookings at a random half-hour 2 to 700 days ahead with any staff member
-- (the service's staff work round the clock), each for a new customer.
-- Usage: SERVICE=<id> KEY=<key> wrk -s loadtest/book_any.lua ...
local counter = 0

function init(args)
  math.randomseed(os.time() + (tonumber(tostring({}):sub(8), 16) or 0))
  local t = os.date("!*t", os.time())
  -- Midnight UTC today (the load machine runs in UTC; os.time reads the table as local time).
  base = os.time({ year = t.year, month = t.month, day = t.day, hour = 0, min = 0, sec = 0 })
end

function request()
  counter = counter + 1
  local start = base + math.random(96, 700 * 48) * 1800
  local who = math.random(1, 1000000000)
  local body = string.format(
    '{"serviceId":"%s","start":"%s","customer":{"name":"Walk-in %d","email":"walkin%d-%d@example.com"}}',
    os.getenv("SERVICE"), os.date("!%Y-%m-%dT%H:%M:%SZ", start), who, who, counter)
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. os.getenv("KEY"),
  }, body)
end

function done(summary, latency, requests)
  print(string.format("non-2xx answers: %d of %d", summary.errors.status, summary.requests))
end
