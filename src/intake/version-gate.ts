import type { RedisClient } from '../jobs/redis-connection.js';
import { RedisScript } from './redis-script.js';

/** How long the highest version seen per resource is remembered (s): 7 days, beyond any EHR retry policy. */
const VERSION_TTL_S = 7 * 24 * 3600;

/** `newer`: process it; `same`: this version was already processed; `stale`: a newer one was. */
export type VersionVerdict = 'newer' | 'same' | 'stale';

/*
 * KEYS[1]: `versionId|lastUpdatedMs` of the highest version processed. ARGV: versionId, lastUpdatedMs
 * ('' when unknown), 1 to commit, ttl. Order: numeric when both ids are numbers (HAPI), else by
 * lastUpdated (Medplum's ids are UUIDs); unknown order counts as newer, so nothing is dropped on a guess.
 */
const GATE_LUA = `
local v, ms, commit, ttl = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1', tonumber(ARGV[4])
local cur = redis.call('GET', KEYS[1])
local verdict = 'newer'
if cur then
  local cv, cms = string.match(cur, '^(.*)|(%d*)$')
  cms = tonumber(cms)
  if cv == v then verdict = 'same'
  else
    local a, b = tonumber(v), tonumber(cv)
    if a and b and string.match(v, '^%d+$') and string.match(cv, '^%d+$') then
      if a < b then verdict = 'stale' end
    elseif ms and cms and ms < cms then verdict = 'stale'
    end
  end
end
if commit and verdict == 'newer' then
  redis.call('SET', KEYS[1], v .. '|' .. (ARGV[2] or ''), 'EX', ttl)
end
return verdict
`;

const gate = new RedisScript(GATE_LUA);

/**
 * Keeps the highest version processed per resource, so that a duplicate (same type/id/versionId) is
 * dropped and an older version arriving late never overrides a newer one. Two steps: `check` before
 * the work, `commit` after it succeeded, so a job that failed half-way is not mistaken for a duplicate
 * when it is retried.
 */
export class VersionGate {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  private key(source: string, resourceType: string, id: string): string {
    return `${this.prefix}:version:${source}:${resourceType}/${id}`;
  }

  check(source: string, resourceType: string, id: string, versionId: string, lastUpdated?: string) {
    return this.run(source, resourceType, id, versionId, lastUpdated, false);
  }

  commit(source: string, resourceType: string, id: string, versionId: string, lastUpdated?: string) {
    return this.run(source, resourceType, id, versionId, lastUpdated, true);
  }

  private async run(
    source: string,
    resourceType: string,
    id: string,
    versionId: string,
    lastUpdated: string | undefined,
    commit: boolean,
  ): Promise<VersionVerdict> {
    const ms = lastUpdated ? Date.parse(lastUpdated) : Number.NaN;
    return gate.run<VersionVerdict>(
      this.redis,
      [this.key(source, resourceType, id)],
      [versionId, Number.isNaN(ms) ? '' : ms, commit ? 1 : 0, VERSION_TTL_S],
    );
  }
}
