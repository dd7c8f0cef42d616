-- wrk script for bench/sync_ingest.py: every connection is a device posting updates.
-- wrk -s sync_ingest.lua URL -- BODIES CONTENT_TYPE ACKS RUN ORIGIN TOKENS FIRST
--   BODIES: update bodies, each as its length in bytes, a newline, then the bytes, holding
--           @ID@ where the update_id goes; CONTENT_TYPE: how they are encoded;
--   ACKS: each wrk thread writes the body of every 202 to ACKS.N, and "! STATUS BODY" for
--         anything else; RUN: a label that keeps update_ids unique across runs;
--   ORIGIN: the page origin a browser would send (the site must allow it);
--   TOKENS: participation tokens, one JSON object a line, each put where a body holds
--           "@TOKEN@" and spent once; FIRST: how many of them earlier runs used.
-- When done it prints the latency percentiles (microseconds) as "pQ MICROSECONDS".

local threads = {}
local prefixes, middles, suffixes = {}, {}, {}
local tokens = {}
local sent, first = 0, 0
local acks, run, headers

function setup(thread)
  thread:set("thread_number", #threads)
  table.insert(threads, thread)
end

function init(args)
  local bodies = assert(io.open(args[1], "rb"))
  for length in bodies:lines() do
    local body = bodies:read(tonumber(length))
    local at = assert(body:find("@ID@", 1, true), "a body has no @ID@")
    local token_at = assert(body:find('"@TOKEN@"', at, true), 'a body has no "@TOKEN@" after its @ID@')
    table.insert(prefixes, body:sub(1, at - 1))
    table.insert(middles, body:sub(at + 4, token_at - 1))
    table.insert(suffixes, body:sub(token_at + 9))
  end
  bodies:close()
  for token in io.lines(args[6]) do
    table.insert(tokens, token)
  end
  first = tonumber(args[7])
  headers, run = {["Content-Type"] = args[2], ["Origin"] = args[5]}, args[4]
  acks = assert(io.open(args[3] .. "." .. thread_number, "w"))
end

function request()
  sent = sent + 1
  local i = sent % #prefixes + 1
  local update_id = string.format("%s-%d-%09d", run, thread_number, sent)
  local token = tokens[first + sent] or '"no tokens left"'
  return wrk.format("POST", nil, headers, prefixes[i] .. update_id .. middles[i] .. token .. suffixes[i])
end

function response(status, headers, body)
  if status == 202 then
    acks:write(body, "\n")
  else
    acks:write("! ", status, " ", body, "\n")
  end
end

function done(summary, latency, requests)
  for _, q in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("p%s %d\n", q, latency:percentile(q)))
  end
end
