import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const CLI = 'dist/cli.js';

/** The built CLI as users run it (`npm install` builds it via `prepare`). */
describe.skipIf(!existsSync(CLI))('fhir-assess CLI (built; skipped before `npm run build`)', () => {
  it('When scoring the Goff 2013 example Bundle, Then the printed JSON has the published 5.38 % (white male, 55 y)', async () => {
    // Goff DC Jr et al., Circulation 2014;129(25 Suppl 2):S49, Table A worked example; risk-models.md §1:
    // full precision 5.38 % (the paper prints 5.3 % from a rounded IndSum).
    const { stdout } = await run('node', [
      CLI,
      'score',
      'test/fixtures/goff-2013-white-male.bundle.json',
      '--as-of',
      '2021-04-01',
    ]);
    const [output] = JSON.parse(stdout);
    const pce = output.predictions.find((p: { calculator: string }) => p.calculator === 'pce-2013');
    expect(pce.probability).toBeCloseTo(0.0538, 4);
    expect(pce.horizonYears).toBe(10);
  });

  it('When scoring a record with UACR and HbA1c, Then score prints that PREVENT ran the full model and why', async () => {
    // preventr example A (risk-models.md §1b) plus UACR 92 mg/g (14959-1) and HbA1c 9.2 % (4548-4), the optional
    // values of preventr's "Full model works" test; no postal code, so SDI enters as "missing".
    const args = [CLI, 'score', 'test/fixtures/prevent-uacr-hba1c.bundle.json', '--as-of', '2021-04-01'];
    const { stdout } = await run('node', [...args, '--models', 'prevent', '--format', 'table']);
    expect(stdout).toContain(
      'prevent ran variant \'full\': full model (UACR, HbA1c and SDI, absent ones as "missing"): 2 optional ' +
        'predictors: Urine albumin/creatinine ratio 92 mg/g, HbA1c 9.2 %; SDI not usable (no postal code in Patient.address)',
    );
    const [json] = JSON.parse((await run('node', [...args, '--models', 'prevent-base'])).stdout);
    expect(json.predictions[0]).toMatchObject({ calculator: 'prevent-10y-cvd', variant: { id: 'full' } });
  });

  it('When the environment is invalid, Then serve exits 78 listing every problem at once', async () => {
    const err = await run('node', [CLI, 'serve'], {
      env: { ...process.env, FHIR_BASE_URL: 'nope', PORT: '-1', MODEL_MODE: 'live' },
    }).catch((e) => e);
    expect(err.code).toBe(78);
    for (const key of ['FHIR_BASE_URL', 'PORT', 'MODEL_MODE']) expect(err.stderr).toContain(key);
  });

  it('When a command is unknown or score has no file, Then usage is printed with exit code 2', async () => {
    const unknown = await run('node', [CLI, 'frobnicate']).catch((e) => e);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    const noFile = await run('node', [CLI, 'score']).catch((e) => e);
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toContain('exactly one Bundle file');
  });
});
