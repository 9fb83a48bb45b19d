-- POST /v1/signup/request with a new email each time (no key): argon2id hash of a fresh code,
-- the database row, and the code email written to the mailbox folder.
local counter = 0
local thread_id = 0

function setup(thread)
  thread:set("id", thread_id)
  thread_id = thread_id + 1
end

function request()
  counter = counter + 1
  local body = string.format('{"email":"load-%d-%d@example.com","organisationName":"Load Org"}', id, counter)
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, body)
end
