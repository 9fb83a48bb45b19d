-- wrk script: POST /v1/invoices/{id}/finalize over the drafts listed in the file $IDS, each
-- thread taking every other one (finalising one twice changes nothing, when the list runs out).
local ids = {}
local next_index = 0
local step = 2
function setup(thread)
  thread:set("offset", next_index)
  next_index = next_index + 1
end
function init(args)
  for line in io.lines(os.getenv("IDS")) do ids[#ids + 1] = line end
  i = offset
end
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
request = function()
  i = i + step
  local id = ids[(i % #ids) + 1]
  return wrk.format(nil, "/v1/invoices/" .. id .. "/finalize")
end
