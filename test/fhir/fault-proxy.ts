import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the proxy saw. */
export interface SeenRequest {
  method: string;
  /** Path and query. */
  url: string;
  authorization?: string;
  body: string;
}

/** What the proxy does with one request; undefined passes it through unchanged. */
export type Fault =
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: unknown }
  | { kind: 'drop' }
  | { kind: 'delay'; ms: number }
  | { kind: 'rewrite'; fn: (body: string) => string }
  | undefined;

export type FaultRule = (req: SeenRequest, index: number) => Fault;

export interface FaultProxy {
  /** `http://127.0.0.1:PORT/fhir/R4`: the sandbox's FHIR base, through the proxy. */
  baseUrl: string;
  origin: string;
  requests: SeenRequest[];
  /** Most requests in flight at once. */
  maxInFlight: number;
  rule: FaultRule;
  /** Origin requests are passed to; settable, for a proxy configured before its EHR starts. */
  target: string;
  close(): Promise<void>;
}

/**
 * A small fault-injecting HTTP proxy in front of the sandbox EHR (real HTTP on loopback): per
 * request it passes through, answers a status (429 with Retry-After, 503...), drops the connection,
 * delays beyond the client's timeout, or rewrites the body (e.g. a `next` link to another host).
 */
export async function startFaultProxy(sandboxBaseUrl: string, rule: FaultRule = () => undefined): Promise<FaultProxy> {
  let inFlight = 0;
  const proxy: FaultProxy = {
    baseUrl: '',
    origin: '',
    requests: [],
    maxInFlight: 0,
    rule,
    target: new URL(sandboxBaseUrl).origin,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((req, res) => {
    inFlight++;
    proxy.maxInFlight = Math.max(proxy.maxInFlight, inFlight);
    res.on('close', () => inFlight--);
    void handle(req, res).catch(() => res.destroy());
  });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const seen: SeenRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      authorization: req.headers.authorization,
      body,
    };
    proxy.requests.push(seen);
    const fault = proxy.rule(seen, proxy.requests.length - 1);
    if (fault?.kind === 'drop') return void req.socket.destroy();
    if (fault?.kind === 'status') {
      res.writeHead(fault.status, { 'content-type': 'application/fhir+json', ...fault.headers });
      return void res.end(fault.body === undefined ? '' : JSON.stringify(fault.body));
    }
    if (fault?.kind === 'delay') await new Promise((resolve) => setTimeout(resolve, fault.ms).unref());
    if (res.destroyed) return;
    const target = proxy.target;
    const upstream = await fetch(`${target}${seen.url}`, {
      method: seen.method,
      headers: { 'content-type': req.headers['content-type'] ?? 'application/fhir+json' },
      body: seen.method === 'GET' || seen.method === 'HEAD' ? undefined : body,
    });
    let text = await upstream.text();
    // The sandbox writes its own origin into links and fullUrls; clients must see the proxy's.
    text = text.split(target).join(proxy.origin);
    if (fault?.kind === 'rewrite') text = fault.fn(text);
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/fhir+json' });
    res.end(text);
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.baseUrl = `${proxy.origin}${new URL(sandboxBaseUrl).pathname}`;
  return proxy;
}

/**
 * Medplum 5's answer to `Patient/{id}/$everything` with `_type` (any value): 400 with an
 * OperationOutcome whose text is the server's own TypeError (`types.push is not a function`), as
 * seen against a real Medplum 5.0.10 server. Other requests pass through.
 */
export const medplumEverythingRefusal: FaultRule = (req) => {
  const url = new URL(req.url, 'http://proxy');
  if (!url.pathname.endsWith('/$everything') || !url.searchParams.has('_type')) return undefined;
  return {
    kind: 'status',
    status: 400,
    body: {
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'invalid', details: { text: 'types.push is not a function' } }],
    },
  };
};

/** A server posing as another host: it only counts what reaches it (must stay zero). */
export async function startForeignHost(): Promise<{ origin: string; hits: () => number; close(): Promise<void> }> {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.writeHead(200, { 'content-type': 'application/fhir+json' });
    res.end('{"resourceType":"Bundle","type":"searchset","entry":[]}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    // `localhost` rather than 127.0.0.1: a different host name, as another EHR would have.
    origin: `http://localhost:${(server.address() as AddressInfo).port}`,
    hits: () => hits,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
