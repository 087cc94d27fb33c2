import type { Bundle } from '@medplum/fhirtypes';
import { createEmbeddedModel, EMBEDDED_MODEL_ID } from './embedded-model.js';
import { formatPercent } from './format.js';
import type { Model, ModelOutput } from './model.js';
import { recordFromBundle } from './record-from-bundle.js';

export interface ScoreOptions {
  /** Assessment date (default: now). Synthea test data ends 2021-03-31, so pass e.g. 2021-04-01 for it. */
  asOf?: Date;
  /** Model ids to run (default: every offline model). Unknown ids throw. */
  models?: string[];
  /** Calculator ids for the embedded model (default: all). */
  calculators?: string[];
}

/** Models that can run offline, without a FHIR server or model endpoint. */
const OFFLINE_MODELS: Record<string, (opts: ScoreOptions) => Model> = {
  [EMBEDDED_MODEL_ID]: (opts) => createEmbeddedModel({ calculators: opts.calculators }),
};

/**
 * Scores one patient's exported Bundle offline (`fhir-assess score FILE [--as-of DATE]`).
 * @param bundle - collection, searchset or transaction Bundle holding exactly one Patient
 * @param opts - as-of date, model ids, calculator ids
 * @returns one ModelOutput per model, in the order requested
 * @throws RecordBundleError for unusable Bundles; Error for unknown model or calculator ids
 */
export async function scoreBundle(bundle: Bundle, opts: ScoreOptions = {}): Promise<ModelOutput[]> {
  const ids = opts.models ?? Object.keys(OFFLINE_MODELS);
  const unknown = ids.filter((id) => !OFFLINE_MODELS[id]);
  if (unknown.length > 0) {
    throw new Error(
      `Unknown model id(s): ${unknown.join(', ')}; offline models: ${Object.keys(OFFLINE_MODELS).join(', ')}`,
    );
  }
  const models = ids.map((id) => OFFLINE_MODELS[id](opts));
  const record = recordFromBundle(bundle);
  const asOf = opts.asOf ?? new Date();
  const outputs: ModelOutput[] = [];
  for (const model of models) outputs.push(await model.assess(record, { asOf }));
  return outputs;
}

/** Left-aligned plain-text table with a header rule. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function displayValue(v: string | number | boolean, unit?: string): string {
  const text = typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(1) : String(v);
  return unit ? `${text} ${unit}` : text;
}

/** A readable text report of model outputs: predictions, inputs used, gaps, exclusions and summary. */
export function formatTable(outputs: ModelOutput[]): string {
  const blocks: string[] = [];
  for (const out of outputs) {
    const lines = [`Model ${out.modelId}@${out.modelVersion}`];
    const predictions = out.predictions.map((p) => [
      p.calculator,
      p.outcome.text ?? '',
      p.probability !== undefined ? formatPercent(p.probability, 2) : String(p.score ?? ''),
      p.category ?? '',
      p.qualitativeRisk ?? '',
      p.horizonYears !== undefined ? `${p.horizonYears} y` : '',
    ]);
    if (predictions.length > 0) {
      lines.push(table(['Calculator', 'Outcome', 'Risk', 'Category', 'Qualitative', 'Horizon'], predictions));
    }
    for (const p of out.predictions) {
      lines.push(`\nInputs used by ${p.calculator}:`);
      const rows = p.inputsUsed.map((u) => [u.name, displayValue(u.value, u.unit), u.effective ?? '', u.source ?? '']);
      lines.push(table(['Input', 'Value', 'Date', 'Source'], rows));
    }
    if (out.missing.length > 0) {
      lines.push('\nNot usable:');
      lines.push(
        table(
          ['Calculator', 'Input', 'Reason', 'Detail'],
          out.missing.map((m) => [m.calculator, m.name, m.reason, m.detail ?? '']),
        ),
      );
    }
    for (const e of out.exclusions) lines.push(`\nExcluded from ${e.calculator}: ${e.reason}`);
    lines.push(`\nSummary: ${out.summary}`);
    blocks.push(lines.join('\n'));
  }
  return blocks.join('\n\n');
}
