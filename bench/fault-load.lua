-- bench/fault-load.lua: the wrk script of the fault benchmarks
-- (bench/fault-pg-restart, bench/fault-worker-kill, bench/soak-api, via
-- bench/faultlib.py, which sets the environment below and reads the file
-- this script writes at the end).
--
-- Each wrk thread plays one user (FAULT_TOKENS, FAULT_IDS: that user's
-- projects) and cycles through a fixed mix of requests:
--   crud  GET /project, GET /project/{id}, PUT /project/{id}, POST /project
--         and DELETE of a project this thread created (reads and writes);
--   soak  the same plus every other route a user reaches, errors on
--         purpose (404, 400, 401), bodies from 20 bytes to 40 KiB, and a
--         login (Argon2id) every FAULT_LOGIN_EVERY requests.
-- Projects created are deleted later by the same thread, so a user's
-- project count stays bounded; ids come from the 201 bodies.
--
-- wrk does not say which request a response answers, so responses are
-- classified by what they are: 2xx is success; anything else is counted
-- under "status content-type body" (the first 100 bytes of the body). Every
-- response also lands in a 100 ms bucket of CLOCK_MONOTONIC (LuaJIT's ffi),
-- the clock Python's time.monotonic() reads, so the orchestrator can line
-- the timeline up with the moments it broke something.
--
-- Environment: FAULT_MIX (crud | soak), FAULT_TOKENS (comma-separated, one
-- per user), FAULT_IDS (per user ';'-separated, ids ','-separated),
-- FAULT_EMAILS and FAULT_PASSWORD (soak logins), FAULT_LOGIN_EVERY
-- (requests per thread between logins; 0: none), FAULT_OUT (result file).

local ffi = require("ffi")
ffi.cdef[[
  typedef struct { long tv_sec; long tv_nsec; } fault_timespec;
  int clock_gettime(int clk, fault_timespec *ts);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("fault_timespec")

local function bucket_now()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 10 + math.floor(tonumber(ts.tv_nsec) / 1e8)
end

local function split(s, sep)
  local out = {}
  for part in string.gmatch(s or "", "[^" .. sep .. "]+") do
    out[#out + 1] = part
  end
  return out
end

-- --- setup and done run in their own Lua state --------------------------

local threads = {}
local next_index = 0

function setup(thread)
  next_index = next_index + 1
  thread:set("index", next_index)
  threads[#threads + 1] = thread
end

-- --- per thread ---------------------------------------------------------

index = 0             -- set by setup
ok_buckets = {}       -- bucket -> 2xx responses
fail_buckets = {}     -- bucket -> other responses
statuses = {}         -- status -> count
failures = {}         -- "status type body" -> count
first_fail = {}       -- same key -> first bucket seen
responses = 0

local mix, token, ids, email, password, login_every
local created = {}    -- ids of projects this thread created, to delete
local step = 0
local counter = 0
local plan            -- list of request builders, cycled
local pending_login = false

local json_headers

local function auth_headers(tok)
  return {["Authorization"] = "Bearer " .. tok,
          ["Content-Type"] = "application/json"}
end

local function pick_id()
  counter = counter + 1
  return ids[(counter % #ids) + 1]
end

local function req(method, path, body, headers)
  return wrk.format(method, path, headers or json_headers, body)
end

local function get_list()    return req("GET", "/project") end
local function get_one()     return req("GET", "/project/" .. pick_id()) end
local function put_small()
  return req("PUT", "/project/" .. pick_id(),
             '{"description":"edited ' .. counter .. '"}')
end
local function post_new()
  counter = counter + 1
  return req("POST", "/project",
             '{"name":"load ' .. index .. "-" .. counter .. '",' ..
             '"link":"https://load-' .. counter .. '.example.com/"}')
end
local function delete_created()
  local id = table.remove(created, 1)
  if not id then return req("GET", "/project/status") end
  return req("DELETE", "/project/" .. id)
end

-- Bodies of various sizes for the soak.
local big_desc = string.rep("d", 2000)           -- the largest valid one
local huge_body                                  -- 40 KiB, refused (400)

local function put_big()
  return req("PUT", "/project/" .. pick_id(),
             '{"description":"' .. big_desc:sub(1, 1000 + counter % 1000) ..
             '"}')
end
local function put_huge()    return req("PUT", "/project/" .. pick_id(), huge_body) end
local function put_badtype() return req("PUT", "/project/" .. pick_id(), '{"name":42}') end
local function post_badjson() return req("POST", "/project", '{"name": "x",') end
local function get_missing() return req("GET", "/project/999999999") end
local function get_badid()   return req("GET", "/project/12abc") end
local function get_noroute() return req("GET", "/user/nothing-here") end
local function me_badtoken()
  return req("GET", "/user/me", nil, auth_headers("e30.e30.bad-signature"))
end
local function me()          return req("GET", "/user/me") end
local function dashboard()   return req("GET", "/project/dashboard") end
local function status()      return req("GET", "/project/status") end
local function page()        return req("GET", "/project?limit=3&offset=2") end
local function checks()      return req("GET", "/project/" .. pick_id() .. "/checks?limit=50") end
local function uptime()      return req("GET", "/project/" .. pick_id() .. "/uptime") end
local function check_now()   return req("POST", "/project/" .. pick_id() .. "/check") end
local function health()      return req("GET", "/healthcheck") end
local function mute_bad()    return req("GET", "/project/mute?token=nonsense") end
local function login()
  return req("POST", "/user/login",
             '{"email":"' .. email .. '","password":"' .. password .. '"}',
             {["Content-Type"] = "application/json"})
end

function init(args)
  local tokens = split(os.getenv("FAULT_TOKENS"), ",")
  local id_lists = split(os.getenv("FAULT_IDS"), ";")
  local emails = split(os.getenv("FAULT_EMAILS"), ",")
  local user = ((index - 1) % #tokens) + 1
  mix = os.getenv("FAULT_MIX") or "crud"
  token = tokens[user]
  ids = split(id_lists[user], ",")
  email = emails[user]
  password = os.getenv("FAULT_PASSWORD")
  login_every = tonumber(os.getenv("FAULT_LOGIN_EVERY") or "0") or 0
  json_headers = auth_headers(token)
  huge_body = '{"description":"' .. string.rep("h", 40 * 1024) .. '"}'

  if mix == "soak" then
    plan = {get_list, get_one, put_small, dashboard, status, get_missing,
            post_badjson, me_badtoken, put_big, page, post_new, get_one,
            health, checks, uptime, put_badtype, get_noroute, check_now,
            put_huge, me, get_badid, delete_created, mute_bad, get_list}
  else
    plan = {get_list, get_one, put_small, get_list, get_one, post_new,
            get_one, put_small, get_list, delete_created}
  end
end

function request()
  step = step + 1
  if login_every > 0 and email and step % login_every == 0 then
    return login()
  end
  return plan[(step % #plan) + 1]()
end

function response(status_code, headers, body)
  local b = bucket_now()
  responses = responses + 1
  statuses[status_code] = (statuses[status_code] or 0) + 1
  if status_code >= 200 and status_code < 300 then
    ok_buckets[b] = (ok_buckets[b] or 0) + 1
    if status_code == 201 and body then
      local id = string.match(body, '^{"id":(%d+)')
      if id then created[#created + 1] = id end
    end
    return
  end
  fail_buckets[b] = (fail_buckets[b] or 0) + 1
  local ctype = headers["Content-Type"] or headers["content-type"] or "-"
  local key = status_code .. " " .. ctype:gsub("%s", "") .. " " ..
              (body or ""):sub(1, 100):gsub("%c", " ")
  if not failures[key] then first_fail[key] = b end
  failures[key] = (failures[key] or 0) + 1
end

-- --- done: merge the threads and write FAULT_OUT --------------------------

function done(summary, latency, requests)
  local out = assert(io.open(os.getenv("FAULT_OUT"), "w"))
  local ok, fail, st, fl, ff = {}, {}, {}, {}, {}
  local function add(dst, src)
    for k, v in pairs(src or {}) do dst[k] = (dst[k] or 0) + v end
  end
  for _, t in ipairs(threads) do
    add(ok, t:get("ok_buckets"))
    add(fail, t:get("fail_buckets"))
    add(st, t:get("statuses"))
    add(fl, t:get("failures"))
    for k, v in pairs(t:get("first_fail") or {}) do
      if not ff[k] or v < ff[k] then ff[k] = v end
    end
  end
  local e = summary.errors
  out:write(string.format("summary %d %d %d %d %d %d %d\n", summary.duration,
            summary.requests, e.connect, e.read, e.write, e.status,
            e.timeout))
  out:write(string.format("latency %d %d %d %d\n", latency.max,
            latency:percentile(50), latency:percentile(99),
            latency:percentile(99.9)))
  for k, v in pairs(ok) do out:write(string.format("ok %d %d\n", k, v)) end
  for k, v in pairs(fail) do out:write(string.format("fail %d %d\n", k, v)) end
  for k, v in pairs(st) do out:write(string.format("status %d %d\n", k, v)) end
  for k, v in pairs(fl) do
    out:write(string.format("failure %d %d %s\n", v, ff[k], k))
  end
  out:close()
end
