import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import type { Database } from '../../src/db/database.js';
import type { RedisClient } from '../../src/jobs/redis-connection.js';
import { producerConnection } from '../../src/jobs/redis-connection.js';
import type { ModelOutput } from '../../src/models/model.js';
import { startMonitoring } from '../../src/monitoring/monitoring.js';
import { baselineOf, psi } from '../../src/monitoring/psi.js';
import { metricsRegistry } from '../../src/observability/metrics.js';
import type { PatientRow } from '../../src/validation/evaluate-patient.js';
import { buildReport } from '../../src/validation/report.js';
import { ValidationReportStore } from '../../src/validation/report-store.js';
import { seededRng } from '../../src/validation/stats/rng.js';
import { targetFor } from '../../src/validation/targets.js';
import { type MigratedTestDatabase, useMigratedTestDatabase } from '../helpers/postgres.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';

describe('population stability index', () => {
  it('PSI of shares .8/.2 against .5/.5 is .3·ln 1.6 + .3·ln 2.5 = 0.4159 (Siddiqi 2006 formula, by hand)', () => {
    const baseline = { edges: [0.5], proportions: [0.5, 0.5], n: 100 };
    const current = [...new Array(8).fill(0.1), 0.9, 0.9];
    expect(psi(baseline, current)).toBeCloseTo(0.3 * Math.log(1.6) + 0.3 * Math.log(2.5), 10);
  });

  it('When the current sample comes from the baseline distribution, Then PSI ≈ 0; a yes/no input gets one edge', () => {
    const rng = seededRng(3);
    const base = Array.from({ length: 5000 }, () => rng());
    const b = baselineOf(base);
    expect(b.edges).toHaveLength(9);
    expect(
      psi(
        b,
        Array.from({ length: 5000 }, () => rng()),
      ),
    ).toBeLessThan(0.01);
    expect(baselineOf([0, 1, 1, 0, 1]).edges).toEqual([0]);
  });
});

const MODEL = { id: 'fhir-assess-risk-equations', version: '0.2.0', title: 'equations' };

function output(risk: number, cholesterol: number): ModelOutput {
  return {
    modelId: MODEL.id,
    modelVersion: MODEL.version,
    predictions: [
      {
        calculator: 'pce-2013',
        outcome: { text: 'ASCVD' },
        probability: risk,
        qualitativeRisk: risk < 0.075 ? 'low' : 'moderate',
        rationale: '',
        inputsUsed: [
          { name: 'Total cholesterol', value: cholesterol, unit: 'mg/dL' },
          { name: 'Diabetes', value: false },
        ],
      },
    ],
    missing: [{ calculator: 'prevent-base', name: 'Body mass index', reason: 'stale' }],
    exclusions: [],
    summary: '',
    basis: [],
  };
}

describe('drift against the validation baseline (real Redis and PostgreSQL)', () => {
  let redis: TestRedis;
  let conn: RedisClient;
  let testDb: MigratedTestDatabase;
  let db: Database;
  const prefix = `t-drift-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    redis = await useTestRedis();
    conn = producerConnection(redis.url);
    testDb = await useMigratedTestDatabase();
    db = testDb.db;
    // The baseline: 400 validated patients, risk ~U(0, 0.1), cholesterol ~U(150, 250).
    const rng = seededRng(5);
    const rows: PatientRow[] = Array.from({ length: 400 }, (_, i) => ({
      patientId: `p${i}`,
      prediction: 'pce-2013',
      risk: rng() * 0.1,
      time: 10,
      event: rng() < 0.05,
      end: 'horizon',
      sex: 'male',
      age: 55,
      inputs: { 'Total cholesterol': 150 + rng() * 100, Diabetes: 0 },
      missing: [],
    }));
    const report = buildReport(rows, {
      target: targetFor('pce-2013'),
      model: MODEL,
      asOf: new Date('2011-01-01'),
      source: 'ehr',
      selection: 'all patients',
      bootstrap: { reps: 10, seed: 1 },
    });
    await new ValidationReportStore(db).save(report);
  }, 60_000);
  afterAll(async () => {
    const keys = await conn.keys(`${prefix}:*`);
    if (keys.length) await conn.del(...keys);
    conn.disconnect();
    await testDb?.close();
    await redis?.stop();
  });

  it('When outputs follow the baseline, Then no alert; when risks triple and cholesterol rises, Then the metric and one log line name the model and the input', async () => {
    const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
    const logger = {
      warn: (obj: Record<string, unknown>, msg: string) => warnings.push({ obj, msg }),
      info: () => {},
      error: () => {},
    } as never;
    const cfg = loadConfig({
      FHIR_BASE_URL: 'http://127.0.0.1:1/fhir',
      QUEUE_PREFIX: prefix,
      DRIFT_MIN_SAMPLES: '100',
    });
    const monitoring = startMonitoring(
      cfg,
      { redis: conn, db, logger, models: [MODEL] },
      { http: true, workers: false },
    );
    const rng = seededRng(9);
    for (let i = 0; i < 1000; i++)
      await monitoring.outputs.record(output(rng() * 0.1, 150 + rng() * 100), 'preliminary');
    let found = await monitoring.drift!.check([MODEL]);
    expect(found.map((f) => f.series).sort()).toEqual(['input:Diabetes', 'input:Total cholesterol', 'risk']);
    expect(found.every((f) => !f.alert && f.psi < 0.1)).toBe(true);
    expect(warnings).toEqual([]);
    for (let i = 0; i < 1000; i++)
      await monitoring.outputs.record(output(rng() * 0.3, 220 + rng() * 100), 'preliminary');
    found = await monitoring.drift!.check([MODEL]);
    const risk = found.find((f) => f.series === 'risk')!;
    expect(risk.alert).toBe(true);
    expect(risk.psi).toBeGreaterThan(cfg.DRIFT_PSI_THRESHOLD);
    expect(found.find((f) => f.series === 'input:Diabetes')?.alert).toBe(false);
    const messages = warnings.map((w) => w.msg);
    expect(messages).toContainEqual(
      expect.stringMatching(
        /drift alert: model fhir-assess-risk-equations 0\.2\.0 \(pce-2013\) its predicted risk has PSI/,
      ),
    );
    expect(messages).toContainEqual(
      expect.stringMatching(/input 'Total cholesterol' has PSI [\d.]+ > 0\.25 against validation report vr-/),
    );
    await monitoring.drift!.check([MODEL]); // still drifting: no second line
    expect(warnings).toHaveLength(2);
    const alertGauge = await metricsRegistry.getSingleMetricAsString('fhir_assess_drift_alert');
    expect(alertGauge).toMatch(
      /fhir_assess_drift_alert\{model="fhir-assess-risk-equations",version="0.2.0",prediction="pce-2013",series="risk"\} 1/,
    );
    const day = new Date().toISOString().slice(0, 10);
    expect(await conn.hget(`${prefix}:monitor:day:${day}`, `${MODEL.id}@${MODEL.version}|preliminary`)).toBe('2000');
    expect(
      await conn.hget(
        `${prefix}:monitor:inputs:${day}`,
        `${MODEL.id}@${MODEL.version}|prevent-base|Body mass index|stale`,
      ),
    ).toBe('2000');
    const histogram = await metricsRegistry.getSingleMetricAsString('fhir_assess_model_risk');
    expect(histogram).toMatch(
      /fhir_assess_model_risk_count\{model="fhir-assess-risk-equations",version="0.2.0",prediction="pce-2013"\} 2000/,
    );
    monitoring.close();
  }, 60_000);
});
