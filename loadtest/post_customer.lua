-- wrk script: POST /v1/customers with a new name each time.
-- Usage: wrk -s loadtest/post_customer.lua ... (KEY in the environment)
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
request = function()
  counter = counter + 1
  wrk.body = string.format('{"name":"Load %d-%d","tags":["load"]}', math.random(1, 1e9), counter)
  return wrk.format()
end
