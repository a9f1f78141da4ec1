-- wrk script for bench_submission.py: POST varied comment bodies, count outcomes.
--
--   wrk -t2 -c16 -d15s -s benchmarks/submission.lua http://127.0.0.1:8000 -- BODIES [PATH]
--
-- BODIES is a file with one JSON comment body per line (bench_submission.py writes one:
-- different threads, authors, emails and texts, some with a website and some with links).
-- PATH defaults to /api/v1/comments. Every request is prepared once in init(); each wrk
-- thread walks the bodies from its own offset so threads do not send the same sequence.
--
-- done() prints one line, "BENCH_RESULT {json}", with the request count, duration,
-- socket errors, latency percentiles (microseconds), responses by status class, the
-- "status" field of 2xx answers ("published"/"pending"; absent from the bare echo), and
-- the first non-2xx answer seen, so the caller never has to parse wrk's text summary.

local threads = {}
local counter = 1

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

-- Per-thread counters. Globals, so done() can read them with thread:get().
c2xx, c3xx, c4xx, c5xx, cother = 0, 0, 0, 0, 0
published, pending, unknown = 0, 0, 0
first_error = ""

local prepared = {}
local count = 0
local index = 0

function init(args)
  local bodies = args[1]
  if bodies == nil then
    error("usage: wrk ... -s submission.lua URL -- BODIES_FILE [PATH]")
  end
  local path = args[2] or "/api/v1/comments"
  local headers = {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json",
    ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) bench-submission/1",
  }
  local file = assert(io.open(bodies, "r"))
  for line in file:lines() do
    if #line > 0 then
      count = count + 1
      prepared[count] = wrk.format("POST", path, headers, line)
    end
  end
  file:close()
  if count == 0 then
    error("no bodies in " .. bodies)
  end
  index = ((id or 1) - 1) * 7919 % count
end

function request()
  index = index % count + 1
  return prepared[index]
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    c2xx = c2xx + 1
    local outcome = body and body:match('"status"%s*:%s*"(%a+)"')
    if outcome == "published" then
      published = published + 1
    elseif outcome == "pending" then
      pending = pending + 1
    else
      unknown = unknown + 1
    end
    return
  end
  if status >= 300 and status < 400 then
    c3xx = c3xx + 1
  elseif status >= 400 and status < 500 then
    c4xx = c4xx + 1
  elseif status >= 500 and status < 600 then
    c5xx = c5xx + 1
  else
    cother = cother + 1
  end
  if first_error == "" then
    first_error = tostring(status) .. " " .. string.sub(body or "", 1, 300)
  end
end

local function quote(s)
  s = string.gsub(s, '[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == "\\" then return "\\\\" end
    return string.format("\\u%04x", string.byte(c))
  end)
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local names = { "c2xx", "c3xx", "c4xx", "c5xx", "cother", "published", "pending", "unknown" }
  local totals = {}
  for _, name in ipairs(names) do
    totals[name] = 0
  end
  local err = ""
  for _, thread in ipairs(threads) do
    for _, name in ipairs(names) do
      totals[name] = totals[name] + (tonumber(thread:get(name)) or 0)
    end
    local e = thread:get("first_error")
    if err == "" and e and e ~= "" then
      err = e
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,'
      .. '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},'
      .. '"non_2xx_3xx":%d,'
      .. '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,'
      .. '"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p99_9":%d},'
      .. '"status_classes":{"2xx":%d,"3xx":%d,"4xx":%d,"5xx":%d,"other":%d},'
      .. '"outcomes":{"published":%d,"pending":%d,"unknown":%d},'
      .. '"first_error":%s}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.timeout,
    e.status,
    latency.min, latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9),
    totals.c2xx, totals.c3xx, totals.c4xx, totals.c5xx, totals.cother,
    totals.published, totals.pending, totals.unknown,
    quote(err)
  ))
end
