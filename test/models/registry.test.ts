import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { CALCULATOR_IDS } from '../../src/models/calculators/index.js';
import { EMBEDDED_MODEL_ID, EMBEDDED_MODEL_VERSION } from '../../src/models/embedded-model.js';
import { buildModelRegistry } from '../../src/models/registry.js';
import { loadModelSpecs } from '../../src/models/registry-config.js';

const dir = mkdtempSync(join(tmpdir(), 'fhir-assess-models-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(content: unknown): string {
  const path = join(dir, `models-${++n}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const remote = {
  type: 'remote',
  id: 'foundry-gpt',
  version: 'gpt-4o-2024-08-06',
  mode: 'shadow',
  provider: 'azure-openai',
  endpoint: 'https://example-resource.openai.azure.com',
  deployment: 'gpt-4o',
  apiVersion: '2024-10-21',
  auth: { type: 'api-key', keyEnv: 'FOUNDRY_KEY' },
};

describe('loadModelSpecs', () => {
  it('When no MODELS_FILE is set, Then the embedded library runs with every calculator in MODEL_MODE', () => {
    const { models, problems } = loadModelSpecs({ MODEL_MODE: 'final' }, {});
    expect(problems).toEqual([]);
    const registry = buildModelRegistry({ models });
    expect(registry).toHaveLength(1);
    expect(registry[0].mode).toBe('final');
    expect(registry[0].model).toMatchObject({ id: EMBEDDED_MODEL_ID, version: EMBEDDED_MODEL_VERSION });
  });

  it('When the file sets models, modes, calculators and parameters, Then each model gets its own', () => {
    const path = file({
      defaultMode: 'preliminary',
      models: [
        { type: 'embedded', id: 'cardio', calculators: ['pce-2013', 'prevent-base'], mode: 'final' },
        {
          type: 'embedded',
          id: 'kidney',
          calculators: ['ckd-epi-2021', 'kfre-4v'],
          parameters: { kfre: { region: 'non-north-america' }, recency: { kidneyYears: 1 } },
        },
        remote,
      ],
    });
    const { models, problems } = loadModelSpecs({ MODELS_FILE: path, MODEL_MODE: 'shadow' }, { FOUNDRY_KEY: 'k' });
    expect(problems).toEqual([]);
    const registry = buildModelRegistry({ models });
    expect(registry.map((r) => [r.model.id, r.mode])).toEqual([
      ['cardio', 'final'],
      ['kidney', 'preliminary'],
      ['foundry-gpt', 'shadow'],
    ]);
    // A non-default configuration is a new version (so write-backs of the old one are not reused).
    expect(registry[0].model.version).toMatch(
      new RegExp(`^${EMBEDDED_MODEL_VERSION.replaceAll('.', '\\.')}\\+[0-9a-f]{8}$`),
    );
    expect(registry[1].model.version).not.toBe(registry[0].model.version);
    expect(registry[1].model.requires.resourceTypes).toContain('Procedure');
    expect(registry[2].model).toMatchObject({ version: 'gpt-4o-2024-08-06+risk-v1', mayReceiveIdentifiedData: false });
  });

  it('When MODELS lists ids, Then only those run; an unknown id is a problem', () => {
    const path = file([
      { type: 'embedded', id: 'a' },
      { type: 'embedded', id: 'b' },
    ]);
    expect(
      loadModelSpecs({ MODELS_FILE: path, MODELS: 'b', MODEL_MODE: 'preliminary' }, {}).models.map((m) => m.id),
    ).toEqual(['b']);
    expect(loadModelSpecs({ MODELS_FILE: path, MODELS: 'b,zzz', MODEL_MODE: 'preliminary' }, {}).problems).toEqual([
      'MODELS: unknown model id zzz; configured: a, b',
    ]);
  });

  it('When the file is wrong in several ways, Then every problem is reported, naming where', () => {
    const path = file({
      models: [
        { type: 'embedded', id: 'a', calculators: ['pce-2013', 'framingham'] },
        { type: 'embedded', id: 'b', parameters: { kfre: { region: 'europe' } } },
        { ...remote, apiVersion: undefined },
      ],
    });
    const { problems } = loadModelSpecs({ MODELS_FILE: path, MODEL_MODE: 'preliminary' }, {});
    expect(problems.join('\n')).toMatch(/models\.0\.calculators: unknown calculator id/);
    expect(problems.join('\n')).toMatch(/models\.1\.parameters\.kfre\.region/);
    expect(problems.join('\n')).toMatch(/models\.2\.apiVersion: required for provider azure-openai/);
  });

  it('When a hosted model names an unset key variable or an id repeats, Then that is a problem', () => {
    const path = file([remote, { type: 'embedded', id: 'foundry-gpt' }]);
    const { problems } = loadModelSpecs({ MODELS_FILE: path, MODEL_MODE: 'preliminary' }, {});
    expect(problems).toContain('MODELS_FILE: model id foundry-gpt appears twice');
    expect(problems).toContain(
      'MODELS_FILE: model foundry-gpt: environment variable FOUNDRY_KEY (its api-key) is not set',
    );
  });

  it('When the file is not JSON, Then the problem names the file', () => {
    const path = file('{ not json');
    expect(loadModelSpecs({ MODELS_FILE: path, MODEL_MODE: 'preliminary' }, {}).problems[0]).toMatch(
      /^MODELS_FILE: cannot read .*models-\d+\.json/,
    );
  });
});

describe('loadConfig with models', () => {
  it('When MODELS_FILE is valid, Then cfg.models holds the specs with secrets resolved', () => {
    const cfg = loadConfig({ FHIR_BASE_URL: 'http://h/fhir', MODELS_FILE: file([remote]), FOUNDRY_KEY: 'k-123' });
    expect(cfg.models).toHaveLength(1);
    expect(cfg.models[0]).toMatchObject({ id: 'foundry-gpt', mode: 'shadow', secret: 'k-123' });
  });

  it('When both the environment and MODELS_FILE are wrong, Then one ConfigError lists all of it', () => {
    try {
      loadConfig({
        FHIR_BASE_URL: 'http://h/fhir',
        PORT: '99999',
        MODELS_FILE: file([{ type: 'embedded', calculators: ['nope'] }]),
      });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const all = (e as ConfigError).problems.join('\n');
      expect(all).toMatch(/PORT/);
      expect(all).toMatch(/MODELS_FILE: models\.0\.calculators|MODELS_FILE: 0\.calculators/);
    }
  });

  it('When no models file is set, Then the default registry covers every calculator', () => {
    const cfg = loadConfig({ FHIR_BASE_URL: 'http://h/fhir', MODEL_MODE: 'shadow' });
    expect(cfg.models).toEqual([expect.objectContaining({ type: 'embedded', id: EMBEDDED_MODEL_ID, mode: 'shadow' })]);
    expect(cfg.models[0].type === 'embedded' && cfg.models[0].calculators).toBe(undefined);
    expect(CALCULATOR_IDS).toHaveLength(9);
  });
});
