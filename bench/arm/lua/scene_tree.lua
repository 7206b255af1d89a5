-- scene_tree.lua: object trees, as a game's scene graph in a script.
-- Each "level" builds a tree of entities (tables of tables: transform,
-- components, tags, children), is updated for a few frames while
-- subtrees are destroyed and respawned, and is then dropped whole for the
-- next level. Deterministic: a fixed-seed generator of its own, no time,
-- no iteration over tables keyed by tables. Prints a checksum.

local LEVELS = 8          -- levels built and dropped
local FRAMES = 10         -- update frames per level
local FANOUT = 6          -- children per node
local DEPTH = 4           -- tree depth: 1+6+36+216+1296 = 1555 entities
local RESPAWN = 6         -- subtrees destroyed and rebuilt per frame

local seed = 12345
local function rnd(n) -- Park-Miller, 1..n
  seed = (seed * 16807) % 2147483647
  return seed % n + 1
end

local KINDS = { "rock", "tree", "enemy", "pickup", "light", "trigger", "door" }

local function new_entity(kind, id, depth)
  local e = {
    id = id,
    name = kind .. "_" .. id,
    kind = kind,
    transform = { x = rnd(1000), y = rnd(1000), z = rnd(100), rot = rnd(360) },
    components = {},
    children = {},
    depth = depth,
  }
  if kind == "enemy" then
    e.components.health = { hp = 50 + rnd(50), max = 100 }
    e.components.ai = { state = "idle", target = nil, path = { rnd(10), rnd(10), rnd(10) } }
  elseif kind == "pickup" then
    e.components.item = { what = KINDS[rnd(#KINDS)], count = rnd(5) }
  elseif kind == "light" then
    e.components.light = { r = rnd(255), g = rnd(255), b = rnd(255), radius = rnd(20) }
  else
    e.components.collider = { w = rnd(8), h = rnd(8) }
  end
  if rnd(3) == 1 then e.tags = { "static", kind } end
  return e
end

local next_id = 0
local function build(depth)
  next_id = next_id + 1
  local e = new_entity(KINDS[rnd(#KINDS)], next_id, depth)
  if depth < DEPTH then
    for i = 1, FANOUT do
      e.children[i] = build(depth + 1)
    end
  end
  return e
end

local function count(e)
  local n = 1
  for i = 1, #e.children do n = n + count(e.children[i]) end
  return n
end

-- one frame of updates: move everything, run trivial AI, collect messages
local function update(e, frame, acc)
  local t = e.transform
  t.x = (t.x + frame) % 1000
  t.rot = (t.rot + 7) % 360
  local c = e.components
  if c.ai then
    local ai = c.ai
    if ai.state == "idle" then
      ai.state = "chase"
      ai.target = { x = t.x, y = t.y } -- small short-lived table
    else
      ai.state = "idle"
      ai.target = nil
    end
    c.health.hp = c.health.hp - 1
  end
  acc = (acc * 31 + t.x + t.rot + e.id) & 0xffffffff
  for i = 1, #e.children do acc = update(e.children[i], frame, acc) end
  return acc
end

-- walk to a pseudo-random node and replace one of its children
local function respawn(root)
  local e = root
  while #e.children > 0 and rnd(5) ~= 1 do
    e = e.children[rnd(#e.children)]
  end
  if #e.children > 0 then
    local i = rnd(#e.children)
    e.children[i] = build(e.depth + 1)
  end
end

local checksum = 0
local total = 0
for level = 1, LEVELS do
  local root = build(0)
  for frame = 1, FRAMES do
    checksum = update(root, frame, checksum)
    for _ = 1, RESPAWN do respawn(root) end
  end
  total = total + count(root)
  root = nil
  collectgarbage("step", 0)
end

print(string.format("scene_tree: %d entities, checksum %08x", total, checksum))
