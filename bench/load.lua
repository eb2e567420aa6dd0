-- wrk script shared by every run of bench/run.py.
--
--   wrk -s bench/load.lua URL -- METHOD BODY_FILE TOKEN
--
-- METHOD: GET, PUT or POST. BODY_FILE: a file whose bytes are the request body
-- ("-" for none); every "@N@" in it is replaced by a per-request counter, so
-- successive PUTs really change the stored workspace. Sends
-- `Authorization: Bearer TOKEN`. Counts answers by status class (wrk itself
-- only counts >= 400) and prints one line `WRKJSON {...}` at the end.

local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  method = args[1] or "GET"
  local body_file = args[2] or "-"
  wrk.method = method
  wrk.headers["Authorization"] = "Bearer " .. (args[3] or "")
  wrk.headers["Accept"] = "application/json"
  body = nil
  if body_file ~= "-" then
    local handle = assert(io.open(body_file, "rb"))
    body = handle:read("*a")
    handle:close()
    wrk.headers["Content-Type"] = "application/json"
  end
  varying = body ~= nil and string.find(body, "@N@", 1, true) ~= nil
  counter = 0
  c2, c3, c4, c5, cother = 0, 0, 0, 0, 0
  first_bad = ""
  if body ~= nil and not varying then
    wrk.body = body
  end
  fixed = wrk.format()
end

function request()
  if not varying then
    return fixed
  end
  counter = counter + 1
  local text = string.gsub(body, "@N@", id .. "-" .. counter)
  return wrk.format(nil, nil, nil, text)
end

function response(status, headers, answer)
  if status >= 200 and status < 300 then
    c2 = c2 + 1
  else
    if status >= 300 and status < 400 then
      c3 = c3 + 1
    elseif status >= 400 and status < 500 then
      c4 = c4 + 1
    elseif status >= 500 then
      c5 = c5 + 1
    else
      cother = cother + 1
    end
    if first_bad == "" then
      first_bad = status .. " " .. string.sub(answer or "", 1, 300)
    end
  end
end

local function quote(text)
  text = string.gsub(text, "[%c\"\\]", function(c)
    return string.format("\\u%04x", string.byte(c))
  end)
  return '"' .. text .. '"'
end

function done(summary, latency, requests)
  local t2, t3, t4, t5, tother, bad = 0, 0, 0, 0, 0, ""
  for _, thread in ipairs(threads) do
    t2 = t2 + (thread:get("c2") or 0)
    t3 = t3 + (thread:get("c3") or 0)
    t4 = t4 + (thread:get("c4") or 0)
    t5 = t5 + (thread:get("c5") or 0)
    tother = tother + (thread:get("cother") or 0)
    if bad == "" then
      bad = thread:get("first_bad") or ""
    end
  end
  local errors = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, '
      .. '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, '
      .. '"status_2xx": %d, "status_3xx": %d, "status_4xx": %d, "status_5xx": %d, "status_other": %d, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f, "first_bad": %s}\n',
    summary.requests, summary.duration, summary.bytes,
    errors.connect, errors.read, errors.write, errors.timeout,
    t2, t3, t4, t5, tother,
    latency:percentile(50.0), latency:percentile(90.0), latency:percentile(99.0), latency.max, latency.mean,
    quote(bad)))
end
