//! The Lua scripts behind a room's events. Each runs atomically, so a room's number, its
//! log and its channel never disagree.
//!
//! A room is numbered by Redis (`INCR`), except while an instance answers in it: that
//! instance then owns the room (its owner key, a lease) and numbers the events itself, so
//! its own members get each token without waiting for Redis; it writes them to the log
//! and channel with those numbers. Events other instances publish meanwhile wait in the
//! room's waiting list until the owner takes them and numbers them in turn, or until the
//! ownership ends (released, or expired with its instance): the next script to run then
//! numbers them first.
//!
//! Every script but [`PUBLISH_NUMBERED`] and [`TAKE_WAITING`] has the same keys: the room's counter, its log,
//! its owner and its waiting list; and the same arguments: ARGV[1] the room's channel, ARGV[2] a frame without its
//! `seq` field, ARGV[3] the number a room without a counter starts from, ARGV[4] the
//! log's length, ARGV[5] the idle expiry in seconds, ARGV[6] an owner token, ARGV[7] the
//! ownership's lease in milliseconds, ARGV[8] a sequence number.

/// Numbers `frame` with the counter, logs and publishes it. A new room starts from a
/// time-based number, above any an earlier incarnation handed out, so a client holding an
/// old number sees a gap, not old events. The expiry is renewed on a room's first event
/// and every 64th after it, not on each: two of six calls per streamed token went to it.
/// A room that then expires early (fewer than 64 events in a day) starts a new, higher
/// count, as above.
macro_rules! numbering_by_redis {
    () => {
        r"
local function number(frame)
  local seq = redis.call('INCR', KEYS[1])
  local id
  if seq == 1 then
    id = ARGV[3]
    redis.call('SET', KEYS[1], id)
  else
    id = string.format('%d', seq)
  end
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], id .. '-0', 'e', frame)
  if id == ARGV[3] or seq % 64 == 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[5])
    redis.call('EXPIRE', KEYS[2], ARGV[5])
  end
  redis.call('PUBLISH', ARGV[1], id .. ' ' .. frame)
  return id
end
local function number_waiting()
  if redis.call('EXISTS', KEYS[4]) == 1 then
    for _, frame in ipairs(redis.call('LRANGE', KEYS[4], 0, -1)) do
      number(frame)
    end
    redis.call('DEL', KEYS[4])
  end
end
"
    };
}

/// Publishes ARGV[2]. Returns its number, or '0' when an owner numbers the room: the
/// event then waits for it.
pub(super) const PUBLISH: &str = concat!(
    numbering_by_redis!(),
    r"
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('RPUSH', KEYS[4], ARGV[2])
  redis.call('EXPIRE', KEYS[4], ARGV[5])
  return '0'
end
number_waiting()
return number(ARGV[2])
"
);

/// Publishes events numbered by their rooms' owners, many in one call: per event, its
/// room's four keys, and four arguments after the three shared ones (ARGV[1] the log's
/// length, ARGV[2] the idle expiry, ARGV[3] the ownership's lease in milliseconds): its
/// room's channel, the frame without `seq`, the owner's token and the event's number. An
/// answer's tokens are one such event each, many rooms' at every timer tick; one call
/// for all of a tick's costs Redis (and the instance) one script call instead of one
/// per token. Per event, '-1' when refused (another owner holds the room, or the
/// ownership lapsed and Redis numbered events past it meanwhile), else how many events
/// wait for the owner. Its keys span rooms, so it cannot run on Redis Cluster.
pub(super) const PUBLISH_NUMBERED: &str = r"
local replies = {}
for i = 1, #KEYS / 4 do
  local k, a = (i - 1) * 4, 3 + (i - 1) * 4
  local counter, log, owner_key, waiting = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4]
  local channel, frame, me, seq = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local owner = redis.call('GET', owner_key)
  local refused = false
  if owner ~= me then
    if owner or tonumber(redis.call('GET', counter) or '0') >= tonumber(seq) then
      refused = true
    else
      redis.call('SET', owner_key, me, 'PX', ARGV[3])
    end
  end
  if refused then
    replies[i] = '-1'
  else
    redis.call('SET', counter, seq)
    redis.call('XADD', log, 'MAXLEN', '~', ARGV[1], seq .. '-0', 'e', frame)
    if tonumber(seq) % 64 == 0 then
      redis.call('EXPIRE', counter, ARGV[2])
      redis.call('EXPIRE', log, ARGV[2])
    end
    redis.call('PUBLISH', channel, seq .. ' ' .. frame)
    replies[i] = tostring(redis.call('LLEN', waiting))
  end
end
return replies
";

/// Makes ARGV[6] the room's owner unless it has one. Events left waiting by an earlier
/// owner are numbered first. Returns the room's newest number (the owner numbers on from
/// it), or '-1' when another owner holds the room.
pub(super) const CLAIM: &str = concat!(
    numbering_by_redis!(),
    r"
if not redis.call('SET', KEYS[3], ARGV[6], 'NX', 'PX', ARGV[7]) then
  return '-1'
end
number_waiting()
local newest = redis.call('GET', KEYS[1])
if not newest then
  newest = ARGV[3]
  redis.call('SET', KEYS[1], newest)
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return newest
"
);

/// Ends the ownership of the owner whose token starts with ARGV[6] (a whole token, or an
/// instance's prefix when that instance is gone); Redis numbers the room again, starting
/// above ARGV[8] (the owner's last number, should its last writes have failed), the
/// waiting events first. Returns '1', or '0' when the room is another owner's.
pub(super) const RELEASE: &str = concat!(
    numbering_by_redis!(),
    r"
local owner = redis.call('GET', KEYS[3])
if owner and string.sub(owner, 1, #ARGV[6]) ~= ARGV[6] then
  return '0'
end
redis.call('DEL', KEYS[3])
if tonumber(ARGV[8]) > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], ARGV[8])
end
number_waiting()
return '1'
"
);

/// KEYS: the room's owner key and waiting list; ARGV[1]: an owner token. The owner takes
/// the events waiting for it, oldest first (none if it no longer owns the room).
pub(super) const TAKE_WAITING: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return {}
end
local waiting = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
return waiting
";
