import type { Bundle } from '@medplum/fhirtypes';
import { CALCULATOR_IDS, isCalculatorId } from './calculators/index.js';
import { createEmbeddedModel } from './embedded-model.js';
import { formatPercent } from './format.js';
import type { Model, ModelOutput } from './model.js';
import { recordFromBundle } from './record-from-bundle.js';
import { buildModelRegistry, offlineModels, type RegisteredModel } from './registry.js';
import { loadModelSpecs } from './registry-config.js';

export interface ScoreOptions {
  /** Assessment date (default: now). Synthea test data ends 2021-03-31, so pass e.g. 2021-04-01 for it. */
  asOf?: Date;
  /**
   * Model ids (offline models of `registry`) and/or calculator ids (run together as one embedded model);
   * default: every offline model. Unknown ids throw.
   */
  models?: string[];
  /** Calculator ids for the embedded model (default: all). */
  calculators?: string[];
  /** Models to choose from, e.g. from MODELS_FILE (default: the embedded library with every calculator). */
  registry?: RegisteredModel[];
}

/** The models `scoreBundle` runs for `opts`, in the order requested. */
function chooseModels(opts: ScoreOptions): Model[] {
  const embedded = () => createEmbeddedModel({ calculators: opts.calculators ?? 'all' });
  const available = opts.registry ? offlineModels(opts.registry).map((r) => r.model) : [embedded()];
  if (!opts.models) return available;
  const calculators = opts.models.filter(isCalculatorId);
  const unknown = opts.models.filter((id) => !calculators.includes(id) && !available.some((m) => m.id === id));
  if (unknown.length > 0) {
    throw new Error(
      `Unknown model or calculator id(s): ${unknown.join(', ')}; offline models: ${available.map((m) => m.id).join(', ')}; calculators: ${CALCULATOR_IDS.join(', ')}`,
    );
  }
  const models = opts.models.flatMap((id) => available.filter((m) => m.id === id));
  if (calculators.length > 0) models.push(createEmbeddedModel({ calculators }));
  return models;
}

/**
 * Scores one patient's exported Bundle offline (`fhir-assess score FILE [--as-of DATE] [--models ...]`).
 * @param bundle - collection, searchset or transaction Bundle holding exactly one Patient
 * @param opts - as-of date, model or calculator ids, the models to choose from
 * @returns one ModelOutput per model, in the order requested
 * @throws RecordBundleError for unusable Bundles; Error for unknown model or calculator ids
 */
export async function scoreBundle(bundle: Bundle, opts: ScoreOptions = {}): Promise<ModelOutput[]> {
  const models = chooseModels(opts);
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

/** The Risk column: probability, score, or both (CHA2DS2-VASc 4 = 4.0 %/y). */
function riskCell(p: ModelOutput['predictions'][number]): string {
  const score = p.score !== undefined ? `${p.score}${p.scoreUnit ? ` ${p.scoreUnit}` : ''}` : '';
  if (p.probability === undefined) return score;
  const pct = formatPercent(p.probability, 2);
  return score && !p.scoreUnit ? `${score} (${pct})` : pct;
}

/** Inputs of each calculator, once per calculator (a calculator's predictions share their inputs). */
function inputBlocks(out: ModelOutput): string[] {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const p of out.predictions) {
    const who = p.group ?? p.calculator;
    if (seen.has(who)) continue;
    seen.add(who);
    lines.push(`\nInputs used by ${who}:`);
    const rows = p.inputsUsed.map((u) => [
      u.name,
      displayValue(u.value, u.unit),
      u.effective ?? '',
      u.source ?? '',
      u.derivation ?? '',
    ]);
    lines.push(table(['Input', 'Value', 'Date', 'Source', 'Derivation'], rows));
  }
  return lines;
}

/** Which variant each multi-variant calculator ran and why (e.g. PREVENT's model type and its optional inputs). */
function variantLines(out: ModelOutput): string[] {
  const seen = new Map<string, string>();
  for (const p of out.predictions) {
    const who = p.group ?? p.calculator;
    if (p.variant && !seen.has(who)) seen.set(who, `${who} ran variant '${p.variant.id}': ${p.variant.reason}`);
  }
  return seen.size > 0 ? ['\nVariants:', ...seen.values()] : [];
}

/** A readable text report of model outputs: predictions, variants, inputs used, gaps, exclusions and summary. */
export function formatTable(outputs: ModelOutput[]): string {
  const blocks: string[] = [];
  for (const out of outputs) {
    const lines = [`Model ${out.modelId}@${out.modelVersion}`];
    const predictions = out.predictions.map((p) => [
      p.calculator,
      p.outcome.text ?? '',
      riskCell(p),
      p.category ?? '',
      p.qualitativeRisk ?? '',
      p.horizonYears !== undefined ? `${p.horizonYears} y` : '',
    ]);
    if (predictions.length > 0) {
      lines.push(table(['Calculator', 'Outcome', 'Risk', 'Category', 'Qualitative', 'Horizon'], predictions));
    }
    lines.push(...variantLines(out));
    lines.push(...inputBlocks(out));
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

/**
 * The offline models of a models file (what `score` runs when MODELS_FILE is set); hosted models are skipped,
 * so their secrets need not be present.
 * @throws Error listing every problem of the file
 */
export function offlineRegistryFromFile(path: string): RegisteredModel[] {
  const { models, problems } = loadModelSpecs(
    { MODELS_FILE: path, MODEL_MODE: 'preliminary' },
    {},
    { resolveSecrets: false },
  );
  if (problems.length > 0) throw new Error(`invalid models file:\n  - ${problems.join('\n  - ')}`);
  return offlineModels(buildModelRegistry({ models: models.filter((m) => m.type === 'embedded') }));
}
