import { randomBytes } from 'node:crypto';
import type { RedisClient } from './redis-connection.js';

/** How long a `$assess` request stays queryable at its status URL (s): one day. */
export const ASSESS_REQUEST_TTL_S = 24 * 3600;

/** One `$assess` request as tracked in Redis: ids and counts only (Redis holds it in clear text). */
export interface AssessRequest {
  id: string;
  level: 'patient' | 'group' | 'system';
  source: string;
  /** `Patient/{id}`, `Group/{id}` or `system`. */
  target: string;
  /** Patients enqueued. */
  total: number;
  /** Hash of the caller's identity: only the same caller may read or cancel the request. */
  owner: string;
  created: string;
  cancelled?: string;
}

/**
 * Tracks `$assess` requests and their job ids (`{prefix}:assess-request:{id}` + `...:jobs`);
 * `$validate-model` requests the same way under their own namespace (`validate-request`).
 */
export class AssessRequests {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly namespace: 'assess-request' | 'validate-request' = 'assess-request',
  ) {}

  /** A fresh request id: 24 hex characters, unguessable (the status URL is a capability). */
  static newId(): string {
    return randomBytes(12).toString('hex');
  }

  async create(request: AssessRequest, jobIds: string[]): Promise<void> {
    const key = this.key(request.id);
    const fields: Record<string, string> = {
      level: request.level,
      source: request.source,
      target: request.target,
      total: String(request.total),
      owner: request.owner,
      created: request.created,
    };
    const multi = this.redis.multi().hset(key, fields).expire(key, ASSESS_REQUEST_TTL_S);
    if (jobIds.length) multi.rpush(`${key}:jobs`, ...jobIds).expire(`${key}:jobs`, ASSESS_REQUEST_TTL_S);
    await multi.exec();
  }

  async get(id: string): Promise<AssessRequest | undefined> {
    const h = await this.redis.hgetall(this.key(id));
    if (!h.level) return undefined;
    return {
      id,
      level: h.level as AssessRequest['level'],
      source: h.source,
      target: h.target,
      total: Number(h.total),
      owner: h.owner,
      created: h.created,
      cancelled: h.cancelled || undefined,
    };
  }

  async jobIds(id: string): Promise<string[]> {
    return this.redis.lrange(`${this.key(id)}:jobs`, 0, -1);
  }

  async markCancelled(id: string): Promise<void> {
    await this.redis.hset(this.key(id), 'cancelled', new Date().toISOString());
  }

  private key(id: string): string {
    return `${this.prefix}:${this.namespace}:${id}`;
  }
}
