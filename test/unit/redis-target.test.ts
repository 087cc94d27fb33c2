import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { hashTagOf, parseRedisTarget } from '../../src/config/redis-target.js';

const BASE = { FHIR_BASE_URL: 'http://ehr.example/fhir' };

describe('REDIS_URL and REDIS_CLUSTER_NODES', () => {
  it('When REDIS_URL is a cluster URL with credentials, Then its seed nodes, TLS and credentials are parsed', () => {
    expect(parseRedisTarget('rediss+cluster://app:p%40ss:w@r1.example:6379,[::1]:7000')).toEqual({
      kind: 'cluster',
      tls: true,
      nodes: [
        { host: 'r1.example', port: 6379 },
        { host: '::1', port: 7000 },
      ],
      username: 'app',
      password: 'p@ss:w',
    });
    expect(parseRedisTarget('redis://127.0.0.1:6379/2')).toEqual({ kind: 'single', url: 'redis://127.0.0.1:6379/2' });
  });

  it('When the cluster nodes are malformed, Then start-up names them, with every other problem', () => {
    const err = (() => {
      try {
        loadConfig({ ...BASE, REDIS_CLUSTER_NODES: 'r1:6379,r2', QUEUE_PREFIX: '{fa}', PORT: 'x' });
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.problems).toContain(
      "REDIS_CLUSTER_NODES: cluster seed nodes must be host:port, comma-separated (not 'r2')",
    );
    expect(err!.problems.some((p) => p.startsWith('PORT:'))).toBe(true);
  });

  it('When REDIS_CLUSTER_NODES is set beside REDIS_URL, Then start-up asks for one of them', () => {
    expect(() =>
      loadConfig({ ...BASE, REDIS_URL: 'redis://r:6379', REDIS_CLUSTER_NODES: 'r1:6379', QUEUE_PREFIX: '{fa}' }),
    ).toThrow(/REDIS_CLUSTER_NODES: set beside REDIS_URL/);
  });

  it('When QUEUE_PREFIX holds a malformed hash tag, Then it is refused; a single Redis takes a tagged prefix too', () => {
    expect(() => loadConfig({ ...BASE, QUEUE_PREFIX: '{a}{b}' })).toThrow(/QUEUE_PREFIX/);
    expect(() => loadConfig({ ...BASE, QUEUE_PREFIX: '{}' })).toThrow(/QUEUE_PREFIX/);
    expect(loadConfig({ ...BASE, QUEUE_PREFIX: '{fhir-assess}' }).QUEUE_PREFIX).toBe('{fhir-assess}');
    expect(hashTagOf('{fhir-assess}')).toBe('fhir-assess');
    expect(hashTagOf('site-{a}-x')).toBe('a');
    expect(hashTagOf('fhir-assess')).toBeUndefined();
  });
});
