-- wrk script: cycle over a list of request paths, one a line, each thread
-- starting at a different place; optionally send a bearer token.
--
--   wrk -t2 -c16 -d20s --latency -s bench/paths.lua http://127.0.0.1:PORT -- PATHS_FILE [TOKEN]

local threads = 0

function setup(thread)
  thread:set("start", threads * 97)
  threads = threads + 1
end

local paths = {}
local i = 0
local headers = {}

function init(args)
  for line in io.lines(args[1]) do
    if line ~= "" then paths[#paths + 1] = line end
  end
  if #paths == 0 then error("no paths in " .. args[1]) end
  if args[2] and args[2] ~= "" then headers["Authorization"] = "Bearer " .. args[2] end
  i = (start or 0) % #paths
end

function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], headers)
end
