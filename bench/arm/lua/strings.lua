-- strings.lua: string building, as a game's UI, logging and save code do
-- it in a script: HUD text with string.format, dialogue templates filled
-- with gsub, log lines built by concatenation and kept in a small ring,
-- a save game serialised with table.concat and parsed back with gmatch.
-- Little stays alive (a ring of log lines, one save string); almost every
-- string is garbage a moment later. Deterministic; prints a checksum.

local FRAMES = 20000
local RING = 400

local seed = 4242
local function rnd(n) -- Park-Miller, 1..n
  seed = (seed * 16807) % 2147483647
  return seed % n + 1
end

local function hash(h, s) -- order-dependent checksum over a string
  for i = 1, #s, 7 do h = (h * 33 + s:byte(i)) & 0xffffffff end
  return (h + #s) & 0xffffffff
end

local NAMES = { "Aria", "Borin", "Cass", "Dov", "Elin", "Fenn", "Gale", "Hale" }
local ITEMS = { "sword", "potion", "key", "map", "lantern", "rope", "gem" }
local TEMPLATES = {
  "Hello $name, you have $gold gold and $count ${item}s.",
  "$name found a $item! ($count in the bag, $gold gold left)",
  "Quest '$quest' updated: bring $count $item to $name.",
  "[$name] HP $hp/$maxhp  MP $mp  Gold $gold",
}

local log = {}     -- ring of recent log lines
local logpos = 0
local function logline(s)
  logpos = logpos % RING + 1
  log[logpos] = s
end

local player = { name = "Aria", gold = 100, hp = 80, maxhp = 100, mp = 20,
                 inventory = {}, quest = "The Lost Lantern" }
for i = 1, #ITEMS do player.inventory[ITEMS[i]] = rnd(5) end

local function serialize(p)
  local parts = {}
  parts[#parts + 1] = "name=" .. p.name
  parts[#parts + 1] = string.format("gold=%d;hp=%d;maxhp=%d;mp=%d", p.gold, p.hp, p.maxhp, p.mp)
  for i = 1, #ITEMS do
    local k = ITEMS[i]
    parts[#parts + 1] = "item." .. k .. "=" .. tostring(p.inventory[k])
  end
  parts[#parts + 1] = "quest=" .. p.quest:gsub(" ", "_")
  return table.concat(parts, ";")
end

local function parse(s)
  local t, n = {}, 0
  for k, v in s:gmatch("([%w%.]+)=([^;]*)") do
    t[k] = v
    n = n + 1
  end
  return t, n
end

local h = 0
for frame = 1, FRAMES do
  -- HUD: a few formatted strings per frame
  local hud = string.format("FPS %2d | %s  HP %3d/%3d  Gold %5d  Pos (%.1f, %.1f)",
    50 + rnd(10), player.name, player.hp, player.maxhp, player.gold,
    rnd(10000) / 10, rnd(10000) / 10)
  h = hash(h, hud)
  local timer = string.format("%02d:%02d.%03d", frame // 3600 % 60, frame // 60 % 60, frame * 16 % 1000)
  h = hash(h, timer)

  -- dialogue: templates filled by gsub with a table and a function
  local vars = { name = NAMES[rnd(#NAMES)], gold = tostring(player.gold),
                 count = tostring(rnd(9)), item = ITEMS[rnd(#ITEMS)],
                 quest = player.quest, hp = player.hp, maxhp = player.maxhp, mp = player.mp }
  for _ = 1, 3 do
    local tpl = TEMPLATES[rnd(#TEMPLATES)]
    local line = tpl:gsub("%${(%w+)}", vars):gsub("%$(%w+)", function(k) return tostring(vars[k]) end)
    h = hash(h, line)
    if rnd(4) == 1 then logline("[dialog] " .. line) end
  end

  -- events logged by concatenation
  local who, what = NAMES[rnd(#NAMES)], ITEMS[rnd(#ITEMS)]
  local ev = "frame " .. frame .. ": " .. who .. " picks up " .. what .. " x" .. rnd(3)
  logline(ev)
  h = hash(h, ev:upper())
  player.inventory[what] = player.inventory[what] + 1
  player.gold = (player.gold + rnd(7) - 3) % 100000

  -- word wrapping of a long text into lines
  if frame % 5 == 0 then
    local words = {}
    for w in ("The " .. who .. " walked into the old tower, holding the " .. what ..
              " high; the stairs creaked and somewhere far above a door slammed shut."):gmatch("%S+") do
      words[#words + 1] = w
    end
    local lines, cur = {}, ""
    for i = 1, #words do
      if #cur + #words[i] + 1 > 24 then lines[#lines + 1] = cur; cur = words[i]
      else cur = (#cur > 0) and (cur .. " " .. words[i]) or words[i] end
    end
    lines[#lines + 1] = cur
    h = hash(h, table.concat(lines, "\n"))
  end

  -- save + load every 10 frames
  if frame % 10 == 0 then
    local save = serialize(player)
    local t, n = parse(save)
    h = hash(h, save)
    h = (h + n + tonumber(t.gold)) & 0xffffffff
    -- a rolling digest of the log ring
    h = hash(h, table.concat(log, "|"))
    h = hash(h, string.rep("=", frame % 40) .. string.reverse(save:sub(1, 30)))
  end
end

print(string.format("strings: %d frames, %d log lines, checksum %08x", FRAMES, #log, h))
