-- Each wrk thread walks its own slice of the code file, so no code is sent twice.
-- With IDEMPOTENCY_PREFIX set, each request carries an Idempotency-Key of its own.
local counter = 1
local threads = {}

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  codes = {}
  for line in io.lines(os.getenv("CODES_FILE")) do codes[#codes + 1] = line end
  stride = tonumber(os.getenv("THREADS"))
  prefix = os.getenv("IDEMPOTENCY_PREFIX")
  position = id
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
end

function request()
  local code = codes[position]
  if code == nil then
    -- The file ran out: start again (these answers are 409s, counted as non-2xx).
    position = id
    code = codes[position]
  end
  position = position + stride
  if prefix then
    wrk.headers["Idempotency-Key"] = prefix .. "-" .. id .. "-" .. position
  end
  local body = '{"code":"' .. code .. '","customer_id":"C-1","order_id":"O-' .. position ..
    '","order_amount":5000,"channel":"online"}'
  return wrk.format(nil, "/v1/redemptions", nil, body)
end
