import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, redisAnswers } from '../../src/util/local-redis.js';

/** True when `redis-server` (and so, in every Redis package, `redis-cli`) can be run here. */
export const hasRedisServer = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
/** Why cluster tests skip, printed once by each skipping file. */
export const NO_REDIS_SERVER =
  'Redis Cluster tests skipped: redis-server is not installed (Debian: apt-get install -y redis-server)';

/** A private three-master Redis Cluster on loopback, owned by one test file. */
export interface TestCluster {
  /** `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`, as REDIS_URL takes it. */
  url: string;
  ports: number[];
  /** A plain client of each master (for MONITOR, SCAN, CLUSTER KEYSLOT). */
  node(port: number): Redis;
  stop(): Promise<void>;
}

const MASTERS = 3;

/**
 * Starts three `redis-server --cluster-enabled yes` on free ports (each with its own bus port and
 * temp dir), joins them with `redis-cli --cluster create --cluster-yes` and waits for `cluster_state:ok`
 * on every node. `stop()` kills the servers and removes the dirs; they are also killed if the test
 * process exits without calling it.
 */
export async function startRedisCluster(): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'fhir-assess-cluster-'));
  const children: ChildProcess[] = [];
  const reap = () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', reap);
  const clients: Redis[] = [];
  const stop = async () => {
    for (const c of clients) c.disconnect();
    await Promise.all(
      children.map((c) =>
        c.exitCode === null ? new Promise((r) => c.once('exit', r).kill('SIGTERM')) : Promise.resolve(),
      ),
    );
    reap();
    process.off('exit', reap);
  };
  try {
    const ports: number[] = [];
    for (let i = 0; i < MASTERS; i++) {
      const [port, bus] = [await freePort(), await freePort()];
      ports.push(port);
      children.push(
        spawn(
          'redis-server',
          [
            ...['--port', String(port), '--cluster-port', String(bus), '--bind', '127.0.0.1'],
            ...['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--dir', dir],
            ...['--save', '', '--appendonly', 'no', '--cluster-node-timeout', '5000'],
          ],
          { stdio: 'ignore' },
        ),
      );
    }
    for (const port of ports) await waitUntil(() => redisAnswers(`redis://127.0.0.1:${port}`, 200), `node ${port}`);
    await promisify(execFile)('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    const byPort = new Map(ports.map((p) => [p, new Redis(p, '127.0.0.1', { maxRetriesPerRequest: 1 })]));
    clients.push(...byPort.values());
    for (const c of byPort.values()) {
      await waitUntil(async () => String(await c.cluster('INFO')).includes('cluster_state:ok'), 'cluster_state:ok');
    }
    return {
      url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
      ports,
      node: (port) => byPort.get(port)!,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function waitUntil(probe: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`Redis Cluster: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
