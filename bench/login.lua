-- wrk script for bench/run: POST /api/token with the JSON password grant.
--
-- The lockout reserves a try per username before bcrypt runs, so many concurrent tries on one
-- username would be refused (429) rather than measured. Each wrk thread therefore signs in its
-- own block of BENCH_USERS_PER_THREAD users in turn: with at most that many connections per
-- thread, no username ever has two tries in flight. bench/run creates the users
-- (BENCH_USER_PREFIX followed by two digits: bench00, bench01, ...).

local prefix = os.getenv("BENCH_USER_PREFIX") or "bench"
local per_thread = tonumber(os.getenv("BENCH_USERS_PER_THREAD") or "16")
local password = os.getenv("BENCH_PASSWORD") or error("BENCH_PASSWORD is not set")

local next_thread = 0

-- Runs in the main Lua state once per thread: numbers the threads.
function setup(thread)
  thread:set("thread_index", next_thread)
  next_thread = next_thread + 1
end

local sent = 0

function request()
  local index = (thread_index or 0) * per_thread + sent % per_thread
  sent = sent + 1
  local body = string.format(
    '{"grant_type":"password","username":"%s%02d","password":"%s"}',
    prefix, index, password)
  return wrk.format("POST", "/api/token", { ["Content-Type"] = "application/json" }, body)
end
