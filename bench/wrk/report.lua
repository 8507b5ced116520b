-- wrk script: POST /api/v1/logs/report with the integration guide's payload (shared seed 001).
--
-- Every request is a fresh report: its own request id, user id, URL, message detail and timestamp. The grouping
-- key cycles through 1,000 combinations of error.type x error.file_path x error.line_number, so the server sees
-- 1,000 distinct fingerprints. Only 200 responses are counted as accepted. done() prints one line
-- "BENCH_JSON {...}" that bench/ingest.py parses.
--
-- Usage (bench/ingest.py does this for you):
--   wrk -t1 -c16 -d20s --latency -s bench/wrk/report.lua http://127.0.0.1:PORT/api/v1/logs/report -- PROJECT

local TYPES = {
  "ValueError", "TypeError", "KeyError", "AttributeError", "IndexError",
  "ZeroDivisionError", "RuntimeError", "PermissionError", "TimeoutError", "LookupError",
}
local FILES = {
  "apps/users/views.py", "apps/orders/services.py", "apps/payments/gateway.py", "apps/catalog/search.py",
  "apps/cart/models.py", "apps/auth/tokens.py", "apps/notifications/tasks.py", "apps/reports/export.py",
  "apps/inventory/sync.py", "apps/api/serializers.py",
}
local FUNCS = {
  "get_user", "create_order", "charge_card", "search_products", "add_item",
  "refresh_token", "send_email", "export_csv", "sync_stock", "to_representation",
}
local LINES = { 14, 27, 41, 58, 73, 89, 102, 118, 133, 151 }
local METHODS = { "GET", "POST", "PUT", "DELETE" }
local ENVS = { "production", "production", "production", "staging" }

-- One JSON document; every %s / %d is filled per request. Strings put in it never need JSON escaping.
local TEMPLATE = table.concat({
  '{"project_id":"%s","environment":"%s","level":"ERROR","timestamp":"%s",',
  '"version":"1.4.%d","commit_hash":"%s","repo_url":"https://git.example.com/team/%s.git",',
  '"error":{"type":"%s","message":"invalid literal for int() with base 10: \'%s\'",',
  '"file_path":"%s","line_number":%d,',
  '"stack_trace":["Traceback (most recent call last):",',
  '"  File \\"apps/core/middleware.py\\", line 88, in __call__",',
  '"    response = self.get_response(request)",',
  '"  File \\"%s\\", line %d, in %s",',
  '"    value = int(request.GET[\'id\'])",',
  '"%s: invalid literal for int() with base 10: \'%s\'"]},',
  '"context":{"url":"/api/%s/%d","method":"%s","user_id":"u_%d","request_id":"%s",',
  '"user_agent":"Mozilla/5.0 (X11; Linux x86_64) bench/%d","ip":"10.%d.%d.%d"}}',
})

local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
  table.insert(threads, thread)
end

function init(args)
  project = args[1] or "bench_app"
  ok = 0
  non200 = 0
  first_error = ""
  seq = 0
  tid = tid or 1
  math.randomseed(os.time() * 1000 + tid * 7919)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["User-Agent"] = "python-requests/2.32.3"
end

function request()
  seq = seq + 1
  local fp = math.random(0, 999)
  local i_type = fp % 10 + 1
  local i_file = math.floor(fp / 10) % 10 + 1
  local i_line = math.floor(fp / 100) + 1
  local etype = TYPES[i_type]
  local file = FILES[i_file]
  local line = LINES[i_line]
  local bad = string.format("x%x", math.random(0, 0xffffff))
  local request_id = string.format("req_%d_%d_%08x", tid, seq, math.random(0, 0x7fffffff))
  local body = string.format(TEMPLATE,
    project, ENVS[seq % 4 + 1], os.date("!%Y-%m-%dT%H:%M:%SZ"),
    seq % 7, string.format("%07x", math.random(0, 0xfffffff)), project,
    etype, bad,
    file, line,
    file, line, FUNCS[i_file],
    etype, bad,
    string.match(file, "apps/(%a+)/"), math.random(1, 1000000), METHODS[seq % 4 + 1],
    math.random(1, 50000), request_id,
    math.random(1, 99), math.random(0, 255), math.random(0, 255), math.random(1, 254))
  return wrk.format(nil, nil, nil, body)
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
  local accepted, rejected, err = 0, 0, ""
  for _, t in ipairs(threads) do
    accepted = accepted + t:get("ok")
    rejected = rejected + t:get("non200")
    if err == "" then err = t:get("first_error") end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"ok":%d,"non200":%d,"repeats":0,"duration_us":%d,"bytes":%d,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, accepted, rejected, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
  if err ~= "" then
    io.write("BENCH_FIRST_ERROR " .. err .. "\n")
  end
end
