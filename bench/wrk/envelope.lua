-- wrk script: POST /api/<project id>/envelope/ with pre-built sentry-sdk envelopes (bench/sentry_envelopes.py).
--
-- Thread i loads "<pool prefix>-<i>.bin" (records "<length>\n<bytes>", each a fresh gzip-compressed event with
-- its own event_id) and sends them in order, so no event_id repeats while the pool lasts. If a thread runs out
-- it starts over and counts every re-sent envelope in "repeats": the server acknowledges a repeated event_id
-- without counting it, so bench/ingest.py subtracts repeats from the accepted count. The X-Sentry-Auth,
-- Content-Type and Content-Encoding headers come from the wrk command line (-H), as sentry-python sends them.
--
-- Usage (bench/ingest.py does this for you):
--   wrk -t1 -c16 -d20s --latency -s bench/wrk/envelope.lua -H 'X-Sentry-Auth: ...' \
--       -H 'Content-Type: application/x-sentry-envelope' -H 'Content-Encoding: gzip' \
--       http://127.0.0.1:PORT/api/ID/envelope/ -- POOL_PREFIX

local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
  table.insert(threads, thread)
end

local function load_pool(path)
  -- Record by record, so the file is never held twice in memory.
  local f = assert(io.open(path, "rb"), "cannot open envelope pool " .. path)
  local bodies = {}
  while true do
    local len = f:read("*l")
    if not len then break end
    bodies[#bodies + 1] = f:read(tonumber(len))
  end
  f:close()
  assert(#bodies > 0, "empty envelope pool " .. path)
  return bodies
end

function init(args)
  tid = tid or 1
  bodies = load_pool(args[1] .. "-" .. tid .. ".bin")
  nbodies = #bodies
  idx = 0
  sent_all = false
  repeats = 0
  ok = 0
  non200 = 0
  first_error = ""
  wrk.method = "POST"
end

function request()
  idx = idx + 1
  if idx > nbodies then
    idx = 1
  end
  if sent_all then
    repeats = repeats + 1
  elseif idx == nbodies then
    sent_all = true
  end
  return wrk.format(nil, nil, nil, bodies[idx])
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
  else
    non200 = non200 + 1
    if first_error == "" then
      first_error = status .. " " .. string.sub(body or "", 1, 300)
    end
  end
end

function done(summary, latency, requests)
  local accepted, rejected, rep, err = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    accepted = accepted + t:get("ok")
    rejected = rejected + t:get("non200")
    rep = rep + t:get("repeats")
    if err == "" then err = t:get("first_error") end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"ok":%d,"non200":%d,"repeats":%d,"duration_us":%d,"bytes":%d,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, accepted, rejected, rep, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
  if err ~= "" then
    io.write("BENCH_FIRST_ERROR " .. err .. "\n")
  end
end
