import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HealthServer {
  url: string;
  close(): Promise<void>;
}

/**
 * `/healthz` and `/readyz` for a process without the HTTP API (`fhir-assess worker`), so an
 * orchestrator can probe it (Kubernetes liveness and readiness). `/healthz`: the process is up;
 * `/readyz`: every check answers 'ok' (the worker's are Redis; it retries an unreachable EHR itself).
 * Plain node:http: nothing else is served, no request body is read.
 */
export async function startHealthServer(
  host: string,
  port: number,
  checks: () => Promise<Record<string, string>>,
): Promise<HealthServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const send = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method !== 'GET') return send(405, { status: 'method not allowed' });
    if (path === '/healthz') return send(200, { status: 'ok' });
    if (path !== '/readyz') return send(404, { status: `no route ${path}` });
    checks().then(
      (results) => {
        const ok = Object.values(results).every((v) => v === 'ok');
        send(ok ? 200 : 503, { status: ok ? 'ready' : 'not ready', checks: results });
      },
      (err: Error) => send(503, { status: 'not ready', error: err.message }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
