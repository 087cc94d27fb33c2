import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { CapabilityStatement } from '@medplum/fhirtypes';
import { exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { resolveQuirks } from '../../src/sandbox/ehr-profiles.js';
import { EHR_PROFILE_NAMES, EHR_PROFILES, SandboxOptionsError, startSandbox } from '../../src/sandbox/index.js';

const run = promisify(execFile);
const CLI = 'dist/cli.js';

describe('profile table', () => {
  it('generic is the default and has no quirks; explicit quirks replace the profile’s, false switches one off', async () => {
    expect(EHR_PROFILE_NAMES).toEqual(['generic', 'medplum', 'hapi', 'epic']);
    expect(EHR_PROFILES.generic.quirks).toEqual({});
    const sb = await startSandbox({ logger: false });
    try {
      expect(sb.profile.name).toBe('generic');
      expect(sb.quirks).toEqual({});
      expect(sb.tokenUrl).toBeUndefined();
    } finally {
      await sb.close();
    }
    const quirks = resolveQuirks('medplum', { minimalReply: false, createDelayMs: 5, requestSizeLimit: undefined });
    expect(quirks.minimalReply).toBe(false);
    expect(quirks.createDelayMs).toBe(5);
    expect(quirks.requestSizeLimit).toEqual(EHR_PROFILES.medplum.quirks.requestSizeLimit); // undefined keeps it
    expect(quirks.restHook).toBe('medplum');
  });

  it('a profile quirk switched off by an explicit one is off on the wire', async () => {
    const sb = await startSandbox({ behave: 'medplum', logger: false, quirks: { everything: 'supported' } });
    try {
      const cs = (await (await fetch(`${sb.baseUrl}/metadata`)).json()) as CapabilityStatement;
      const ops = cs.rest?.[0].resource?.find((r) => r.type === 'Patient')?.operation?.map((o) => o.name);
      expect(ops).toContain('everything');
    } finally {
      await sb.close();
    }
  });

  it('refuses an unknown profile, naming the valid ones', async () => {
    await expect(startSandbox({ behave: 'cerner' as never, logger: false })).rejects.toThrow(SandboxOptionsError);
    await expect(startSandbox({ behave: 'cerner' as never, logger: false })).rejects.toThrow(
      'use one of generic, medplum, hapi, epic',
    );
  });
});

describe.skipIf(!existsSync(CLI))('fhir-assess sandbox --behave (built CLI; skipped before `npm run build`)', () => {
  it('exits 2 for an unknown profile, listing the valid ones, and for epic without SMART client options', async () => {
    const unknown = await run('node', [CLI, 'sandbox', '--behave', 'cerner']).catch((e) => e);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('--behave must be one of generic, medplum, hapi, epic');
    const epic = await run('node', [CLI, 'sandbox', '--behave', 'epic']).catch((e) => e);
    expect(epic.code).toBe(2);
    expect(epic.stderr).toContain('--smart-client-id ID --smart-jwks FILE');
    const stray = await run('node', [CLI, 'sandbox', '--smart-client-id', 'x', '--smart-jwks', 'y']).catch((e) => e);
    expect(stray.code).toBe(2);
  });

  it('prints the profile and what it imitates, then serves it; epic takes a client id and a JWKS file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sandbox-cli-'));
    try {
      const { publicKey } = await generateKeyPair('RS384', { extractable: true });
      const jwksFile = join(dir, 'jwks.json');
      await writeFile(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] }));
      const medplum = await runUntilReady(['--behave', 'medplum']);
      expect(medplum.out).toContain('Sandbox profile medplum: imitates Medplum server 5.x');
      expect(medplum.out).toContain('File too large');
      const cs = (await (await fetch(`${medplum.baseUrl}/metadata`)).json()) as CapabilityStatement;
      expect(cs.resourceType).toBe('CapabilityStatement');
      expect(await medplum.stop()).toBe(0);

      const epic = await runUntilReady(['--behave', 'epic', '--smart-client-id', 'c1', '--smart-jwks', jwksFile]);
      expect(epic.out).toContain('Sandbox profile epic: imitates an Epic-like EHR');
      expect(epic.out).toMatch(/token endpoint: http:\/\/127\.0\.0\.1:\d+\/oauth2\/token \(client c1\)/);
      expect((await fetch(`${epic.baseUrl}/Patient`)).status).toBe(401);
      expect(await epic.stop()).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** `fhir-assess sandbox ARGS --port 0 --patients 1`, until it prints its ready line. */
async function runUntilReady(args: string[]) {
  const child = spawn(process.execPath, [CLI, 'sandbox', ...args, '--port', '0', '--patients', '1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'warn' },
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const baseUrl = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += String(d);
      const m = / ready in .* at (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`sandbox exited (${code}) before it was ready: ${out}`)));
  });
  return {
    baseUrl,
    get out() {
      return out;
    },
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
