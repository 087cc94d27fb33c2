import { readFileSync } from 'node:fs';
import type { Bundle } from '@medplum/fhirtypes';
import { formatTable, offlineRegistryFromFile, scoreBundle } from '../models/score.js';
import { parse, UsageError } from './args.js';

/**
 * `score FILE [--as-of DATE] [--models ID,...] [--format json|table]`: the offline models (every embedded
 * calculator, or those of MODELS_FILE) over a Bundle file. `--models` takes model ids and/or calculator ids.
 */
export async function scoreCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { 'as-of': { type: 'string' }, format: { type: 'string' }, models: { type: 'string' } },
    true,
  );
  if (positionals.length !== 1) throw new UsageError('score needs exactly one Bundle file');
  const asOfText = values['as-of'] as string | undefined;
  const asOf = asOfText ? new Date(`${asOfText}T00:00:00Z`) : new Date();
  if (Number.isNaN(asOf.getTime())) throw new UsageError(`--as-of must be a date YYYY-MM-DD, got '${asOfText}'`);
  const format = (values.format as string | undefined) ?? 'json';
  if (format !== 'json' && format !== 'table') throw new UsageError(`--format must be json or table, got '${format}'`);
  let bundle: Bundle;
  try {
    bundle = JSON.parse(readFileSync(positionals[0], 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read a JSON Bundle from ${positionals[0]}: ${(err as Error).message}`);
  }
  if (bundle?.resourceType !== 'Bundle')
    throw new UsageError(`${positionals[0]} is a ${bundle?.resourceType ?? 'non-FHIR document'}, not a Bundle`);
  const models = (values.models as string | undefined)?.split(',');
  let outputs: Awaited<ReturnType<typeof scoreBundle>>;
  try {
    const registry = process.env.MODELS_FILE ? offlineRegistryFromFile(process.env.MODELS_FILE) : undefined;
    outputs = await scoreBundle(bundle, { asOf, models, registry });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  process.stdout.write(format === 'json' ? `${JSON.stringify(outputs, null, 2)}\n` : `${formatTable(outputs)}\n`);
  return 0;
}
