-- closures.lua: closures and coroutines, as a game's scripted behaviour
-- does it: actors run as coroutines that yield every frame ("wait"),
-- are spawned and finish all the time; an event bus keeps listener
-- closures that capture their own state and are added and removed;
-- timers hold callbacks; tweens are built from closure factories; every
-- query goes through closure-based iterators. Deterministic (the schedule
-- is an array, never a table keyed by coroutines); prints a checksum.

local FRAMES = 1500
local ACTORS = 120        -- actors alive at a time (each a coroutine)
local LISTENERS = 80      -- listeners subscribed at a time

local seed = 31337
local function rnd(n) -- Park-Miller, 1..n
  seed = (seed * 16807) % 2147483647
  return seed % n + 1
end

local h = 0
local function mix(v) h = (h * 31 + v) & 0xffffffff end

-- event bus: name -> array of listener closures
local bus = {}
local function subscribe(ev, fn)
  local l = bus[ev]
  if not l then l = {}; bus[ev] = l end
  l[#l + 1] = fn
  return function() -- unsubscribe closure
    for i = 1, #l do
      if l[i] == fn then table.remove(l, i); return true end
    end
    return false
  end
end
local function emit(ev, a, b)
  local l = bus[ev]
  if not l then return 0 end
  local n = 0
  for i = 1, #l do n = n + (l[i](a, b) or 0) end
  return n
end

-- timers: array of { due, fn }
local timers = {}
local function after(now, delay, fn) timers[#timers + 1] = { now + delay, fn } end
local function run_timers(now)
  local i = 1
  while i <= #timers do
    local t = timers[i]
    if t[1] <= now then
      timers[i] = timers[#timers]
      timers[#timers] = nil
      t[2](now)
    else
      i = i + 1
    end
  end
end

-- closure factories
local function tween(from, to, frames, ease)
  local f = 0
  return function()
    f = f + 1
    local t = ease(f / frames)
    return from + (to - from) * t, f >= frames
  end
end
local EASES = {
  function(t) return t end,
  function(t) return t * t end,
  function(t) return 1 - (1 - t) * (1 - t) end,
}
local function range_iter(t, pred) -- closure iterator over an array
  local i = 0
  return function()
    repeat i = i + 1 until i > #t or pred(t[i])
    return t[i]
  end
end
local function memo(fn)
  local cache = {}
  return function(k)
    local v = cache[k]
    if v == nil then v = fn(k); cache[k] = v end
    return v
  end
end

-- actor behaviours: coroutines that yield once per frame
local actors = {}
local next_id = 0
local function behaviour(id, kind)
  return function()
    local hp, x = 10 + rnd(20), rnd(100)
    local path = tween(x, rnd(100), 5 + rnd(20), EASES[rnd(#EASES)])
    local unsub = subscribe("explosion", function(ex, power)
      if math.abs(ex - x) < 10 then hp = hp - power; return 1 end
    end)
    while hp > 0 do
      local nx, done = path()
      x = nx
      if done then
        coroutine.yield("arrived", x)
        path = tween(x, rnd(100), 5 + rnd(20), EASES[rnd(#EASES)])
      end
      if kind == 2 and rnd(8) == 1 then
        -- a sub-behaviour in its own coroutine (a wrapped generator)
        local gen = coroutine.wrap(function()
          for i = 1, 3 do coroutine.yield(i * id) end
        end)
        mix(gen() + gen() + gen())
      end
      hp = hp - 1
      coroutine.yield("tick", x)
    end
    unsub()
    return "dead", id
  end
end
local function spawn()
  next_id = next_id + 1
  local kind = rnd(3)
  actors[#actors + 1] = { id = next_id, kind = kind, co = coroutine.create(behaviour(next_id, kind)) }
end

for _ = 1, ACTORS do spawn() end

-- listeners that come and go, each with its own captured state
local unsubs = {}
local function add_listener(i)
  local count, tag = 0, i % 7
  local stats = { hits = 0 }
  unsubs[#unsubs + 1] = subscribe("score", function(a, b)
    count = count + 1
    if (a + tag) % 3 == 0 then stats.hits = stats.hits + b end
    return stats.hits % 5
  end)
end
for i = 1, LISTENERS do add_listener(i) end

local square = memo(function(k) return { k * k, tostring(k) } end)

for frame = 1, FRAMES do
  -- resume every actor; dead ones are replaced
  local i = 1
  while i <= #actors do
    local a = actors[i]
    local ok, what, v = coroutine.resume(a.co)
    if not ok then error(what) end
    if what == "dead" or coroutine.status(a.co) == "dead" then
      actors[i] = actors[#actors]
      actors[#actors] = nil
      mix(a.id)
      spawn()
    else
      mix(math.floor(v) + #what)
      i = i + 1
    end
  end

  -- events
  mix(emit("explosion", rnd(100), rnd(10)))
  mix(emit("score", frame, rnd(10)))

  -- listener churn
  for _ = 1, 4 do
    local k = rnd(#unsubs)
    unsubs[k]()
    unsubs[k] = unsubs[#unsubs]
    unsubs[#unsubs] = nil
    add_listener(frame + k)
  end

  -- timers scheduled with closures capturing locals
  for _ = 1, 6 do
    local amount, who = rnd(50), rnd(#actors)
    after(frame, rnd(30), function(now) mix(now + amount + who) end)
  end
  run_timers(frame)

  -- closure iterator and a memoised function
  local n = 0
  for a in range_iter(actors, function(a) return a.kind == 1 end) do n = n + a.id % 13 end
  mix(n)
  mix(square(frame % 200)[1])
end

print(string.format("closures: %d frames, %d actors spawned, checksum %08x", FRAMES, next_id, h))
