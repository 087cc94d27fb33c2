/**
 * Where Redis is: one server (`redis://`, `rediss://`) or a Redis Cluster, named by its seed nodes
 * (`redis+cluster://[user:password@]host:port,host:port,...`, `rediss+cluster://` for TLS; or the
 * REDIS_CLUSTER_NODES list, which config.ts folds into such a URL). The cluster discovers its other
 * nodes from any seed, so listing a few masters is enough.
 */
export type RedisTarget =
  | { kind: 'single'; url: string }
  | { kind: 'cluster'; nodes: { host: string; port: number }[]; tls: boolean; username?: string; password?: string };

const CLUSTER_SCHEME = /^(rediss?)\+cluster:\/\/(.*)$/;
const NODE = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** Parses REDIS_URL; throws an Error naming what is wrong (config.ts turns it into a problem). */
export function parseRedisTarget(url: string): RedisTarget {
  const m = CLUSTER_SCHEME.exec(url);
  if (!m) {
    if (!/^rediss?:\/\//.test(url))
      throw new Error('must start with redis://, rediss://, redis+cluster:// or rediss+cluster://');
    return { kind: 'single', url };
  }
  const [, scheme, rest] = m;
  const at = rest.lastIndexOf('@');
  const auth = at >= 0 ? rest.slice(0, at) : '';
  const hosts = (at >= 0 ? rest.slice(at + 1) : rest).replace(/\/\d*$/, '');
  const nodes = hosts.split(',').map((h) => h.trim());
  const bad = nodes.filter((n) => !NODE.test(n) || Number(n.slice(n.lastIndexOf(':') + 1)) > 65535);
  if (!hosts || bad.length) {
    throw new Error(
      `cluster seed nodes must be host:port, comma-separated (not ${bad.map((b) => `'${b}'`).join(', ') || 'empty'})`,
    );
  }
  const [user, ...pass] = auth.split(':');
  return {
    kind: 'cluster',
    tls: scheme === 'rediss',
    nodes: nodes.map((n) => {
      const i = n.lastIndexOf(':');
      return { host: n.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(n.slice(i + 1)) };
    }),
    username: user ? decodeURIComponent(user) : undefined,
    password: pass.length ? decodeURIComponent(pass.join(':')) : undefined,
  };
}

/**
 * The hash tag of a key prefix (Redis Cluster spec: the text between the first `{` and the next `}`,
 * when not empty), or undefined. Every key of ours starts with QUEUE_PREFIX, so with a tag all of
 * them hash to one slot: BullMQ's multi-key scripts and ours stay atomic on a cluster.
 */
export function hashTagOf(prefix: string): string | undefined {
  const open = prefix.indexOf('{');
  if (open < 0) return undefined;
  const close = prefix.indexOf('}', open + 1);
  return close > open + 1 ? prefix.slice(open + 1, close) : undefined;
}

/** Cross-field rules of the Redis settings, as problems joining every other start-up message. */
export function redisSettingsProblems(
  cfg: { REDIS_URL: string; REDIS_CLUSTER_NODES?: string; QUEUE_PREFIX: string },
  present: ReadonlySet<string>,
): string[] {
  const problems: string[] = [];
  if (cfg.REDIS_CLUSTER_NODES && present.has('REDIS_URL')) {
    problems.push(
      'REDIS_CLUSTER_NODES: set beside REDIS_URL; give the cluster one way (REDIS_URL=redis+cluster://h:p,... or REDIS_CLUSTER_NODES)',
    );
  }
  const url = effectiveRedisUrl(cfg);
  let target: RedisTarget | undefined;
  try {
    target = parseRedisTarget(url);
  } catch (err) {
    problems.push(`${cfg.REDIS_CLUSTER_NODES ? 'REDIS_CLUSTER_NODES' : 'REDIS_URL'}: ${(err as Error).message}`);
  }
  if (target?.kind === 'cluster' && !hashTagOf(cfg.QUEUE_PREFIX)) {
    problems.push(
      `QUEUE_PREFIX: on a Redis Cluster it must contain a {hash-tag}, e.g. {${cfg.QUEUE_PREFIX.replace(/[{}]/g, '') || 'fhir-assess'}}, so that each queue's keys and every script's keys share one slot`,
    );
  }
  return problems;
}

/** REDIS_URL, or the cluster URL that REDIS_CLUSTER_NODES stands for. */
export function effectiveRedisUrl(cfg: { REDIS_URL: string; REDIS_CLUSTER_NODES?: string }): string {
  return cfg.REDIS_CLUSTER_NODES ? `redis+cluster://${cfg.REDIS_CLUSTER_NODES.replace(/\s+/g, '')}` : cfg.REDIS_URL;
}
