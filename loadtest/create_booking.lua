-- wrk script: POST /v1/bookings, each request a distinct 30-minute slot of one staff member
-- (between 09:00 and 21:00 UTC, inside its 06:00-24:00 London hours in winter and summer). Thread t takes slots t, t + threads, t + 2 x threads, ... from tomorrow.
-- Usage: SERVICE=<id> KEY=<key> wrk -t2 -s loadtest/create_booking.lua ...
local threads = {}
local counter = 0

function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

function init(args)
  local tomorrow = os.time() + 86400
  local t = os.date("!*t", tomorrow)
  local list = os.getenv("STAFF")
  if list then
    staff = {}
    for id in string.gmatch(list, "[^,]+") do table.insert(staff, id) end
  end
  -- Midnight UTC tomorrow (the load machine runs in UTC; os.time reads the table as local time).
  base = os.time({ year = t.year, month = t.month, day = t.day, hour = 0, min = 0, sec = 0 })
end

function request()
  local n = counter * 2 + index
  counter = counter + 1
  -- With STAFF (comma-separated ids), each request names one of them in turn and the slots of
  -- each staff member follow each other; without, all go to the service's one staff member.
  local staff_field = ""
  if staff then
    local who = staff[(n % #staff) + 1]
    staff_field = string.format(',"staffId":"%s"', who)
    n = math.floor(n / #staff)
  end
  local day = math.floor(n / 24)
  local slot = n % 24
  local start = base + day * 86400 + 9 * 3600 + slot * 1800
  local body = string.format(
    '{"serviceId":"%s","start":"%s"%s,"customer":{"name":"Load %d","email":"load%d-%d@example.com"}}',
    os.getenv("SERVICE"), os.date("!%Y-%m-%dT%H:%M:%SZ", start), staff_field, n, index, counter)
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. os.getenv("KEY"),
  }, body)
end

function done(summary, latency, requests)
  print(string.format("non-201 answers: %d of %d", summary.errors.status, summary.requests))
end
