-- tables.lua: table growth and rehash, as a game's world state in a
-- script: a spatial hash (sparse integer keys -> arrays of ids) whose cells
-- fill, empty and disappear as entities move; an entity registry keyed by
-- strings that grows, is mostly cleared and refills; arrays appended to
-- one element at a time and shrunk again (particles, event queues);
-- per-query A* sets (open/closed/came_from hashes) built and dropped. The
-- world of each round is large (several MB) and is dropped for the next.
-- Deterministic; the checksum never depends on the traversal order of a
-- table keyed by tables. Prints a checksum.

local ROUNDS = 4
local ENTITIES = 7000     -- entities per round (spatial hash + registry)
local MOVES = 3           -- move passes over all entities per round
local PARTICLES = 18000   -- particle array grown and shrunk per round
local QUERIES = 15        -- A* searches per round
local W = 96              -- A* grid width/height

local seed = 777
local function rnd(n) -- Park-Miller, 1..n
  seed = (seed * 16807) % 2147483647
  return seed % n + 1
end

local h = 0
local function mix(v) h = (h * 31 + v) & 0xffffffff end

local function cell_of(x, y) return (x // 16) * 65536 + (y // 16) end

local function astar(blocked, sx, sy, gx, gy)
  local start, goal = sy * W + sx, gy * W + gx
  local open, closed, came, g = { [start] = true }, {}, {}, { [start] = 0 }
  local openlist = { start }
  local steps = 0
  while #openlist > 0 do
    -- pick the best node (linear scan: the script-level way)
    local bi, best, bf = 1, nil, math.huge
    for i = 1, #openlist do
      local n = openlist[i]
      local f = g[n] + math.abs(n % W - gx) + math.abs(n // W - gy)
      if f < bf then bi, best, bf = i, n, f end
    end
    openlist[bi] = openlist[#openlist]
    openlist[#openlist] = nil
    open[best] = nil
    if best == goal then break end
    closed[best] = true
    steps = steps + 1
    local bx, by = best % W, best // W
    local nbrs = { { bx + 1, by }, { bx - 1, by }, { bx, by + 1 }, { bx, by - 1 } }
    for i = 1, 4 do
      local nx, ny = nbrs[i][1], nbrs[i][2]
      if nx >= 0 and ny >= 0 and nx < W and ny < W then
        local n = ny * W + nx
        if not blocked[n] and not closed[n] then
          local ng = g[best] + 1
          if not g[n] or ng < g[n] then
            g[n] = ng
            came[n] = best
            if not open[n] then open[n] = true; openlist[#openlist + 1] = n end
          end
        end
      end
    end
  end
  local len, n = 0, goal
  while came[n] do n = came[n]; len = len + 1 end
  return len, steps
end

for round = 1, ROUNDS do
  -- the world: entities, a spatial hash, a registry keyed by strings
  local ents, grid, registry = {}, {}, {}
  for i = 1, ENTITIES do
    local e = { id = i, x = rnd(4096) - 1, y = rnd(4096) - 1, hp = rnd(100),
                name = "ent#" .. round .. "." .. i }
    ents[#ents + 1] = e
    local c = cell_of(e.x, e.y)
    local bucket = grid[c]
    if not bucket then bucket = {}; grid[c] = bucket end
    bucket[#bucket + 1] = i
    e.slot = #bucket
    registry[e.name] = e
  end

  -- movement: entities leave cells (swap-remove, empty cells are deleted)
  -- and join others (new cells are created): hashes shrink and grow
  for pass = 1, MOVES do
    for i = 1, ENTITIES do
      local e = ents[i]
      local c = cell_of(e.x, e.y)
      e.x = (e.x + rnd(97) - 49) % 4096
      e.y = (e.y + rnd(97) - 49) % 4096
      local nc = cell_of(e.x, e.y)
      if nc ~= c then
        local b = grid[c]
        local last = b[#b]
        b[e.slot] = last
        ents[last].slot = e.slot
        b[#b] = nil
        if #b == 0 then grid[c] = nil end
        local nb = grid[nc]
        if not nb then nb = {}; grid[nc] = nb end
        nb[#nb + 1] = i
        e.slot = #nb
      end
    end
    local cells, filled = 0, 0
    for c, b in pairs(grid) do cells = cells + 1; filled = filled + #b end
    mix(cells); mix(filled)
  end

  -- registry: most entities die, their names are removed, new ones come
  local dead = 0
  for i = 1, ENTITIES do
    if rnd(10) <= 8 then
      registry[ents[i].name] = nil
      dead = dead + 1
    end
  end
  for i = 1, ENTITIES // 2 do
    local name = "spawn#" .. round .. "." .. i
    registry[name] = { id = -i, hp = rnd(100), name = name, loot = { rnd(9), rnd(9) } }
  end
  local alive, hpsum = 0, 0
  for _, e in pairs(registry) do alive = alive + 1; hpsum = hpsum + e.hp end
  mix(dead); mix(alive); mix(hpsum)

  -- particles: an array grown one element at a time, then shrunk from
  -- the end; an event queue consumed from the front with table.remove
  local particles = {}
  for i = 1, PARTICLES do
    particles[#particles + 1] = { x = rnd(640), y = rnd(480), life = rnd(60) }
  end
  local live = 0
  for i = #particles, 1, -1 do
    if particles[i].life < 30 then
      particles[i] = particles[#particles]
      particles[#particles] = nil
    else
      live = live + particles[i].life
    end
  end
  mix(#particles); mix(live)
  local queue = {}
  for i = 1, 3000 do
    queue[#queue + 1] = { kind = rnd(5), arg = i }
    if i % 3 == 0 then
      local ev = table.remove(queue, 1)
      mix(ev.kind + ev.arg)
    end
  end
  mix(#queue)

  -- A*: sets keyed by integers, built per query and dropped
  local blocked = {}
  for i = 1, W * W // 4 do blocked[rnd(W * W) - 1] = true end
  for q = 1, QUERIES do
    local sx, sy, gx, gy = rnd(W) - 1, rnd(W) - 1, rnd(W) - 1, rnd(W) - 1
    blocked[sy * W + sx], blocked[gy * W + gx] = nil, nil
    local len, steps = astar(blocked, sx, sy, gx, gy)
    mix(len); mix(steps)
  end

  ents, grid, registry, particles, queue, blocked = nil, nil, nil, nil, nil, nil
end

print(string.format("tables: %d rounds, checksum %08x", ROUNDS, h))
