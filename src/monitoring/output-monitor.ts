import { Counter, Histogram } from 'prom-client';
import type { RedisClient } from '../jobs/redis-connection.js';
import type { ModelOutput } from '../models/model.js';
import { metricsRegistry } from '../observability/metrics.js';
import { DAY_RETENTION_S, MAX_VALUES, monitorKeys, utcDay } from './monitor-keys.js';

/** Risk buckets (0–1) of the output-distribution histogram: the guideline cut points and a spread above. */
const RISK_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1];

const riskHistogram = new Histogram({
  name: 'fhir_assess_model_risk',
  help: 'Predicted probability (0–1) per model version and prediction',
  labelNames: ['model', 'version', 'prediction'],
  buckets: RISK_BUCKETS,
  registers: [metricsRegistry],
});

const categories = new Counter({
  name: 'fhir_assess_model_risk_category_total',
  help: 'Predictions by qualitative risk (risk-probability code) per model version and prediction',
  labelNames: ['model', 'version', 'prediction', 'risk'],
  registers: [metricsRegistry],
});

const inputs = new Counter({
  name: 'fhir_assess_model_inputs_total',
  help: 'Inputs per model version and calculator by status: used, missing, stale, out-of-range, not-applicable',
  labelNames: ['model', 'version', 'calculator', 'input', 'status'],
  registers: [metricsRegistry],
});

/** What one model run looked like, for monitoring: computed values only, no patient ids. */
function observations(output: ModelOutput) {
  const used = output.predictions.flatMap((p) =>
    p.inputsUsed.map((i) => ({ calculator: p.group ?? p.calculator, prediction: p.calculator, input: i })),
  );
  return { used, missing: output.missing };
}

/**
 * Records every model output for production monitoring: Prometheus metrics in this process (risk
 * histogram, categories, input statuses) and, in Redis for every replica and the console, assessments
 * per day by model and mode, input statuses per day, and the recent values of each prediction's risk
 * and numeric inputs (capped lists) that drift is measured on.
 */
export class OutputMonitor {
  private readonly keys: ReturnType<typeof monitorKeys>;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.keys = monitorKeys(prefix);
  }

  async record(output: ModelOutput, mode: string, now = new Date()): Promise<void> {
    const model = output.modelId;
    const version = output.modelVersion;
    const key = `${model}@${version}`;
    const day = utcDay(now);
    const tx = this.redis.multi();
    tx.hincrby(this.keys.day(day), `${key}|${mode}`, 1).expire(this.keys.day(day), DAY_RETENTION_S);
    const push = (prediction: string, series: string, value: number) => {
      const k = this.keys.values(key, prediction, series);
      tx.lpush(k, `${now.getTime()}:${value}`).ltrim(k, 0, MAX_VALUES - 1);
    };
    for (const p of output.predictions) {
      if (p.probability !== undefined) {
        riskHistogram.observe({ model, version, prediction: p.calculator }, p.probability);
        push(p.calculator, 'risk', p.probability);
      }
      if (p.qualitativeRisk) categories.inc({ model, version, prediction: p.calculator, risk: p.qualitativeRisk });
    }
    const { used, missing } = observations(output);
    const status = (calculator: string, input: string, s: string) => {
      inputs.inc({ model, version, calculator, input, status: s });
      tx.hincrby(this.keys.inputs(day), `${key}|${calculator}|${input}|${s}`, 1);
    };
    for (const u of used) {
      status(u.calculator, u.input.name, 'used');
      const v = u.input.value;
      if (typeof v === 'number' || typeof v === 'boolean') push(u.prediction, `input:${u.input.name}`, Number(v));
    }
    for (const m of missing) status(m.calculator, m.name, m.reason);
    tx.expire(this.keys.inputs(day), DAY_RETENTION_S);
    await tx.exec();
  }
}
