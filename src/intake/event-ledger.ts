import type { RedisClient } from '../jobs/redis-connection.js';
import type { NumberedEvent, ParsedNotification } from './notification.js';
import { RedisScript } from './redis-script.js';

/** Ledger state is dropped after this long without any notification for the subscription (s): 30 days. */
const LEDGER_TTL_S = 30 * 24 * 3600;
/** Largest gap whose event numbers are tracked one by one (so late arrivals can cancel recovery). */
export const MAX_TRACKED_GAP = 1000;

/** A run of event numbers that did not arrive, with the times that bound it (ms since epoch). */
export interface Gap {
  from: number;
  until: number;
  /** When the last event before the gap happened (or was received). */
  fromAt: number;
  /** When the first event after the gap happened, or when the gap was noticed. */
  untilAt: number;
  /** False for huge gaps: their numbers are not tracked individually, so recovery always runs. */
  tracked: boolean;
}

/** What recording one notification found. */
export interface LedgerUpdate {
  /** Gaps opened by this notification: schedule a recovery for each. */
  opened: Gap[];
  /** Gaps whose every missing event has now arrived late: their recovery can be cancelled. */
  closed: { from: number; until: number }[];
}

export interface LedgerState {
  high?: number;
  highAt?: number;
  seenAt?: number;
  checkedAt?: number;
}

/*
 * KEYS: ledger hash, missing zset, gaps hash, subscriptions set.
 * ARGV: now, ttl, eventsSinceStart (-1: none), reset (1: handshake), maxTracked, subscription id,
 *       then event number / time pairs in ascending order.
 * Numbers are formatted with %d: Lua's tostring would turn 1e15 into "1e+15".
 */
const RECORD_LUA = `
local ledger, missing, gaps = KEYS[1], KEYS[2], KEYS[3]
local now, ttl, since = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local reset, maxTracked = ARGV[4] == '1', tonumber(ARGV[5])
redis.call('SADD', KEYS[4], ARGV[6])
local high = tonumber(redis.call('HGET', ledger, 'high'))
local highAt = tonumber(redis.call('HGET', ledger, 'highAt')) or now
local opened, closed = {}, {}
local function fmt(n) return string.format('%d', n) end
local function openGap(from, to, fromAt, toAt)
  local size = to - from + 1
  local tracked = 0
  if size <= maxTracked and redis.call('ZCARD', missing) + size <= 10 * maxTracked then
    tracked = 1
    for k = from, to do redis.call('ZADD', missing, k, fmt(k)) end
  end
  redis.call('HSET', gaps, fmt(from), fmt(to) .. '|' .. fmt(fromAt) .. '|' .. fmt(toAt) .. '|' .. tracked)
  for _, v in ipairs({fmt(from), fmt(to), fmt(fromAt), fmt(toAt), tracked}) do table.insert(opened, v) end
end
local function fill(n)
  if redis.call('ZREM', missing, fmt(n)) == 0 then return end
  local all = redis.call('HGETALL', gaps)
  for i = 1, #all, 2 do
    local from = tonumber(all[i])
    local to = tonumber(string.match(all[i + 1], '^(%d+)'))
    if from <= n and n <= to and redis.call('ZCOUNT', missing, from, to) == 0 then
      redis.call('HDEL', gaps, all[i])
      table.insert(closed, fmt(from))
      table.insert(closed, fmt(to))
    end
  end
end
for i = 7, #ARGV, 2 do
  local n, at = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  if not high then high, highAt = n, at
  elseif n > high then
    if n > high + 1 then openGap(high + 1, n - 1, highAt, at) end
    high, highAt = n, at
  else fill(n) end
end
if since >= 0 then
  if not high then high, highAt = since, now
  elseif since > high then openGap(high + 1, since, highAt, now); high, highAt = since, now
  elseif reset and since < high then
    high, highAt = since, now
    redis.call('DEL', missing, gaps)
  end
end
if high then redis.call('HSET', ledger, 'high', fmt(high), 'highAt', fmt(highAt)) end
redis.call('HSET', ledger, 'seenAt', fmt(now))
for _, k in ipairs({ledger, missing, gaps, KEYS[4]}) do redis.call('EXPIRE', k, ttl) end
return {opened, closed}
`;

const record = new RedisScript(RECORD_LUA);

/**
 * Per-subscription event-number ledger (Backport `events-since-subscription-start` / `event-number`,
 * errors.md): finds missed events, notices late arrivals, and remembers when each subscription was
 * last heard from (handshakes and heartbeats included). One atomic script per notification.
 */
export class EventLedger {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  private keys(source: string, subscriptionId: string) {
    const base = `${this.prefix}:ledger:${source}:${subscriptionId}`;
    return {
      ledger: base,
      missing: `${base}:missing`,
      gaps: `${base}:gaps`,
      subs: `${this.prefix}:ledger-subs:${source}`,
    };
  }

  /** Records what one notification said about a subscription; returns gaps opened and closed. */
  async record(
    source: string,
    subscriptionId: string,
    n: Pick<ParsedNotification, 'type' | 'numbered' | 'eventsSinceStart'>,
    now = Date.now(),
  ): Promise<LedgerUpdate> {
    const k = this.keys(source, subscriptionId);
    // $events answers report the server's current total, which may include events still in flight to us.
    const since = n.type === 'query-event' ? undefined : n.eventsSinceStart;
    const pairs = [...(n.numbered ?? [])]
      .sort((a, b) => a.eventNumber - b.eventNumber)
      .flatMap((e: NumberedEvent) => [e.eventNumber, e.timestamp ? Date.parse(e.timestamp) : now]);
    const [opened, closed] = await record.run<[string[], string[]]>(
      this.redis,
      [k.ledger, k.missing, k.gaps, k.subs],
      [now, LEDGER_TTL_S, since ?? -1, n.type === 'handshake' ? 1 : 0, MAX_TRACKED_GAP, subscriptionId, ...pairs],
    );
    const gaps: Gap[] = [];
    for (let i = 0; i < opened.length; i += 5) {
      const [from, until, fromAt, untilAt] = opened.slice(i, i + 4).map(Number);
      gaps.push({ from, until, fromAt, untilAt, tracked: Number(opened[i + 4]) === 1 });
    }
    const done: LedgerUpdate['closed'] = [];
    for (let i = 0; i < closed.length; i += 2) done.push({ from: Number(closed[i]), until: Number(closed[i + 1]) });
    return { opened: gaps, closed: done };
  }

  /** Event numbers of [from, until] still missing (tracked gaps only). */
  async missing(source: string, subscriptionId: string, from: number, until: number): Promise<number[]> {
    const nums = await this.redis.zrangebyscore(this.keys(source, subscriptionId).missing, from, until);
    return nums.map(Number);
  }

  /** Forgets a gap once recovered (or given up on). */
  async resolve(source: string, subscriptionId: string, from: number, until: number): Promise<void> {
    const k = this.keys(source, subscriptionId);
    await this.redis.multi().zremrangebyscore(k.missing, from, until).hdel(k.gaps, String(from)).exec();
  }

  /** Gaps not yet resolved (a watchdog re-schedules their recovery if it was lost). */
  async openGaps(source: string, subscriptionId: string): Promise<Gap[]> {
    const all = await this.redis.hgetall(this.keys(source, subscriptionId).gaps);
    return Object.entries(all).map(([from, v]) => {
      const [until, fromAt, untilAt, tracked] = v.split('|');
      return {
        from: Number(from),
        until: Number(until),
        fromAt: Number(fromAt),
        untilAt: Number(untilAt),
        tracked: tracked === '1',
      };
    });
  }

  async state(source: string, subscriptionId: string): Promise<LedgerState> {
    const h = await this.redis.hgetall(this.keys(source, subscriptionId).ledger);
    const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
    return { high: num(h.high), highAt: num(h.highAt), seenAt: num(h.seenAt), checkedAt: num(h.checkedAt) };
  }

  /** Subscriptions of a source that have notified us (and are still within the ledger TTL). */
  subscriptions(source: string): Promise<string[]> {
    return this.redis.smembers(`${this.prefix}:ledger-subs:${source}`);
  }

  /** Notes that the heartbeat watchdog asked the EHR about this subscription. */
  async markChecked(source: string, subscriptionId: string, now = Date.now()): Promise<void> {
    await this.redis.hset(this.keys(source, subscriptionId).ledger, 'checkedAt', String(now));
  }
}
