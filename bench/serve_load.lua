-- serve_load.lua: wrk script for bench/serve_load.sh. Every request posts one sentence of
-- SENTENCES (a file, one per line; cycled in order) to POST /v1/embed with "layers": LAYERS.
-- done() prints one line: requests, non-2xx, socket errors, latency percentiles (ms).
local sentences, bodies, n, i = {}, {}, 0, 0

local function json_string(s)
  s = s:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' elseif c == '\\' then return '\\\\' end
    return string.format('\\u%04x', c:byte())
  end)
  return '"' .. s .. '"'
end

function init(args)
  local path = os.getenv("SENTENCES") or error("set SENTENCES")
  local layers = os.getenv("LAYERS") or "all"
  for line in io.lines(path) do
    n = n + 1
    bodies[n] = '{"sentences": [' .. json_string(line) .. '], "layers": "' .. layers .. '"}'
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  local accept = os.getenv("ACCEPT")
  if accept and accept ~= "" then wrk.headers["Accept"] = accept end
end

function request()
  i = i % n + 1
  return wrk.format(nil, nil, nil, bodies[i])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "wrk_result requests=%d duration_s=%.3f non2xx=%d connect=%d read=%d write=%d timeout=%d " ..
    "p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    summary.requests, summary.duration / 1e6, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3))
end
