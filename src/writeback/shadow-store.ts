import type { Bundle, RiskAssessment } from '@medplum/fhirtypes';
import type { RedisClient } from '../jobs/redis-connection.js';

/** One shadow-mode assessment: the complete transaction that would have been sent. Holds PHI. */
export interface ShadowRecord {
  /** The assessment key (patient + model id@version + record hash). */
  key: string;
  source: string;
  patientId: string;
  modelId: string;
  modelVersion: string;
  /** When the shadow run happened (ISO). */
  createdAt: string;
  bundle: Bundle;
}

/** A listing line: ids, time and the predicted probabilities (0–1) by calculator. */
export interface ShadowSummary extends Omit<ShadowRecord, 'bundle'> {
  predictions: { calculator: string; probability?: number; qualitativeRisk?: string }[];
}

export interface ShadowQuery {
  source: string;
  /** Model id, or `id@version` for one version. */
  model?: string;
  patientId?: string;
  /** Newest first; default 20, at most {@link MAX_LIST}. */
  limit?: number;
}

/** Most records one listing returns. */
export const MAX_LIST = 1000;
const DAY_S = 24 * 3600;

/**
 * Stores the record only if its key is new (a re-run of the same assessment keeps the first record,
 * like the EHR's conditional create) and, in the same atomic step, indexes it by time in the "all",
 * model and patient sorted sets, trims index members older than the retention and lets idle indexes
 * expire. KEYS: record, idx...; ARGV: json, ttl s, score ms, member, cutoff ms.
 */
const SAVE = `
if not redis.call('set', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 0 end
for i = 2, #KEYS do
  redis.call('zadd', KEYS[i], ARGV[3], ARGV[4])
  redis.call('zremrangebyscore', KEYS[i], '-inf', ARGV[5])
  redis.call('expire', KEYS[i], ARGV[2])
end
return 1`;

/**
 * The shadow store: what a model in `shadow` mode would have written, kept in Redis so a clinical
 * team can compare it with what actually happened before promoting the model. Durable when Redis
 * runs with AOF (docker/redis/redis.conf); every record expires after the retention. It holds PHI
 * (whole resources): protect this Redis like the EHR (TLS `rediss://`, ACL/AUTH, encrypted disks).
 */
export class ShadowStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly retentionDays: number,
  ) {}

  private k(source: string, rest: string): string {
    return `${this.prefix}:shadow:${source}:${rest}`;
  }

  /** @returns true when stored, false when this assessment was already in the store */
  async save(record: ShadowRecord): Promise<boolean> {
    const ttl = Math.round(this.retentionDays * DAY_S);
    const score = Date.parse(record.createdAt);
    const keys = [
      this.k(record.source, `rec:${record.key}`),
      this.k(record.source, 'idx:all'),
      this.k(record.source, `idx:model:${record.modelId}`),
      this.k(record.source, `idx:patient:${record.patientId}`),
    ];
    const args = [JSON.stringify(record), ttl, score, record.key, Date.now() - ttl * 1000];
    return (await this.redis.eval(SAVE, keys.length, ...keys, ...args)) === 1;
  }

  /** One record by assessment key. */
  async get(source: string, key: string): Promise<ShadowRecord | undefined> {
    const json = await this.redis.get(this.k(source, `rec:${key}`));
    return json ? (JSON.parse(json) as ShadowRecord) : undefined;
  }

  /** Newest first, by model and/or patient (the patient index when both are given, then filtered). */
  async list(q: ShadowQuery): Promise<ShadowSummary[]> {
    const limit = Math.min(Math.max(q.limit ?? 20, 1), MAX_LIST);
    const [modelId, version] = (q.model ?? '').split('@');
    const index = q.patientId ? `idx:patient:${q.patientId}` : modelId ? `idx:model:${modelId}` : 'idx:all';
    const cutoff = Date.now() - this.retentionDays * DAY_S * 1000;
    const keys = await this.redis.zrevrangebyscore(this.k(q.source, index), '+inf', cutoff, 'LIMIT', 0, MAX_LIST);
    if (!keys.length) return [];
    const jsons = await this.redis.mget(keys.map((key) => this.k(q.source, `rec:${key}`)));
    return jsons
      .flatMap((j) => (j ? [JSON.parse(j) as ShadowRecord] : [])) // expired records: gone, index trimmed on save
      .filter((r) => (!modelId || r.modelId === modelId) && (!version || r.modelVersion === version))
      .slice(0, limit)
      .map(summarise);
  }

  /**
   * Deletes every record of one model version (a recall: what it would have written is no longer
   * evidence of anything) with its index entries. @returns how many records were deleted
   */
  async dropVersion(source: string, modelId: string, version: string): Promise<number> {
    const idx = this.k(source, `idx:model:${modelId}`);
    const keys = await this.redis.zrange(idx, '0', '-1');
    let dropped = 0;
    for (let i = 0; i < keys.length; i += DROP_CHUNK) {
      const chunk = keys.slice(i, i + DROP_CHUNK);
      const jsons = await this.redis.mget(chunk.map((key) => this.k(source, `rec:${key}`)));
      const multi = this.redis.multi();
      jsons.forEach((json, n) => {
        const record = json ? (JSON.parse(json) as ShadowRecord) : undefined;
        if (record && record.modelVersion !== version) return;
        multi.zrem(idx, chunk[n]); // expired records' index entries go too
        if (!record) return;
        multi.del(this.k(source, `rec:${chunk[n]}`));
        multi.zrem(this.k(source, 'idx:all'), chunk[n]);
        multi.zrem(this.k(source, `idx:patient:${record.patientId}`), chunk[n]);
        dropped++;
      });
      await multi.exec();
    }
    return dropped;
  }
}

/** Records read per round trip while dropping a version. */
const DROP_CHUNK = 500;

function summarise({ bundle, ...rest }: ShadowRecord): ShadowSummary {
  const risks = (bundle.entry ?? [])
    .map((e) => e.resource)
    .filter((r): r is RiskAssessment => r?.resourceType === 'RiskAssessment');
  return {
    ...rest,
    predictions: risks.map((r) => ({
      calculator: r.method?.coding?.[0]?.code ?? 'model',
      probability: r.prediction?.[0]?.probabilityDecimal,
      qualitativeRisk: r.prediction?.[0]?.qualitativeRisk?.coding?.[0]?.code,
    })),
  };
}
