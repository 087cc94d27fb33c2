import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, OperationOutcome } from '@medplum/fhirtypes';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SandboxOptions, startSandbox } from '../../src/sandbox/index.js';
import { waitFor } from './receiver.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sandbox-gate-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const patientBundle = (n: number): string =>
  `${JSON.stringify({
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
        resource: { resourceType: 'Patient', identifier: [{ system: 'urn:gate', value: String(n) }] },
        request: { method: 'POST', url: 'Patient' },
      },
    ],
  })}\n`;

/** fetch that treats "not listening yet" as no answer. */
async function tryGet(url: string): Promise<Response | undefined> {
  try {
    return await fetch(url);
  } catch {
    return undefined;
  }
}

/**
 * The data file is a FIFO the test writes, so the load is held open for as long as the test
 * wants: no timing involved in observing the server while it loads.
 */
async function checkGate(name: string, extra: Partial<SandboxOptions>, probePath: string) {
  const fifo = join(dir, `${name}.ndjson`);
  execFileSync('mkfifo', [fifo]);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}/fhir/R4`;
  const starting = startSandbox({ port, dataFiles: [fifo], logger: false, ...extra });
  const writer = createWriteStream(fifo);
  const write = (text: string) =>
    new Promise<void>((resolve, reject) => writer.write(text, (e) => (e ? reject(e) : resolve())));

  for (const path of ['metadata', probePath]) {
    const res = await waitFor(() => tryGet(`${base}/${path}`));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    const outcome = (await res.json()) as OperationOutcome;
    expect(outcome.issue[0].code).toBe('transient');
    expect(outcome.issue[0].details?.text).toMatch(/loading its data \(file 1 of 1/);
  }
  await write(patientBundle(1));
  await write(patientBundle(2));
  // Two patients are in, the file is not finished: still nothing is answered.
  const partial = await tryGet(`${base}/Patient?_summary=count`);
  expect(partial?.status).toBe(503);
  await write(patientBundle(3));
  await new Promise<void>((resolve) => writer.end(resolve));
  const sb = await starting;
  try {
    expect(sb.repo.count('Patient')).toBe(3);
    return sb;
  } catch (err) {
    await sb.close();
    throw err;
  }
}

describe('the sandbox answers nothing until its data is loaded', () => {
  it('generic: 503 + Retry-After for metadata and searches while loading; then the whole population', async () => {
    const sb = await checkGate('generic', {}, 'Patient?_summary=count');
    try {
      const count = (await (await fetch(`${sb.baseUrl}/Patient?_summary=count`)).json()) as Bundle;
      expect(count.total).toBe(3);
      expect((await fetch(`${sb.baseUrl}/metadata`)).status).toBe(200);
    } finally {
      await sb.close();
    }
  });

  it('epic: the gate comes before the auth check (503, not 401, while loading)', async () => {
    const { publicKey } = await generateKeyPair('ES384', { extractable: true });
    const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] };
    const sb = await checkGate(
      'epic',
      { behave: 'epic', smartClients: [{ clientId: 'c1', jwks }] },
      '.well-known/smart-configuration',
    );
    try {
      expect((await fetch(`${sb.baseUrl}/Patient`)).status).toBe(401);
    } finally {
      await sb.close();
    }
  });
});
