-- wrk script for benchmarks.load.drive_intake_wrk: POST one report body per request with a
-- bearer token and an Idempotency-Key unique to the run, thread and request; count 202s
-- and anything else; print one JSON line at the end. Arguments (after `--`): the body's
-- file, the token, the run's key prefix.
local threads = {}

function setup(thread)
  thread:set("number", #threads)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "rb"))
  body = file:read("*a")
  file:close()
  token = args[2]
  prefix = args[3] .. "-" .. number .. "-"
  sent, accepted, other = 0, 0, 0
end

function request()
  sent = sent + 1
  return wrk.format("POST", "/v1/reports", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = prefix .. sent,
  }, body)
end

function response(status, headers, body)
  if status == 202 then
    accepted = accepted + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local s, a, o = 0, 0, 0
  for _, thread in ipairs(threads) do
    s = s + thread:get("sent")
    a = a + thread:get("accepted")
    o = o + thread:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"sent": %d, "accepted": %d, "other_status": %d, "duration_us": %d,'
      .. ' "connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d,'
      .. ' "p50_us": %d, "p99_us": %d}\n',
    s, a, o, summary.duration, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
