-- Sends pre-built callback requests: each wrk thread reads its own file
-- (<prefix>.<thread number>, written by bench/traffic.py) and sends each request
-- in it once, in order. If a thread runs out, it starts over and counts the
-- repeats as "wrapped". done() prints one machine-readable line.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1] .. "." .. id, "rb"))
  local headers = { ["Content-Type"] = "text/xml" }
  prepared = {}
  while true do
    local line = file:read("*l")
    if not line then break end
    local target_length, body_length = line:match("^(%d+) (%d+)$")
    local target = file:read(tonumber(target_length))
    local body = file:read(tonumber(body_length))
    prepared[#prepared + 1] = wrk.format("POST", target, headers, body)
  end
  file:close()
  loaded = #prepared
  sent = 0
  wrapped = 0
end

function request()
  sent = sent + 1
  if sent > loaded then
    wrapped = wrapped + 1
    return prepared[(sent - 1) % loaded + 1]
  end
  return prepared[sent]
end

function done(summary, latency, responses)
  local total_sent, total_wrapped, total_loaded = 0, 0, 0
  for _, thread in ipairs(threads) do
    total_sent = total_sent + thread:get("sent")
    total_wrapped = total_wrapped + thread:get("wrapped")
    total_loaded = total_loaded + thread:get("loaded")
  end
  local errors = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d"
      .. " p50_us=%d p99_us=%d max_us=%d sent=%d wrapped=%d loaded=%d\n",
    summary.requests, summary.duration, errors.status, errors.connect, errors.read,
    errors.write, errors.timeout, latency:percentile(50), latency:percentile(99),
    latency.max, total_sent, total_wrapped, total_loaded))
end
