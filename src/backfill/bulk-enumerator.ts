import type { Resource } from '@medplum/fhirtypes';
import { patientIdOf } from '../intake/resource-facts.js';
import type { BulkExportClient } from './bulk-export-client.js';
import type { Cursor, Enumerated, Enumerator } from './cursor.js';

/** What to export: everyone's or one Group's members, optionally only what changed since a date. */
export interface BulkPlan {
  groupId?: string;
  since?: string;
  /** Types the models read (exported with `since`, to find patients whose data changed). */
  types: string[];
}

/**
 * Enumerates with Bulk Data `$export` (`Patient/$export` or `Group/{id}/$export`): kick-off, poll,
 * then stream each NDJSON file line by line, Patient files first. Without `since` only Patient
 * resources are exported (one line per patient); with it, the model types too, so every patient with
 * a change is found (repeats are dropped by the caller's seen-set).
 */
export class BulkEnumerator implements Enumerator {
  readonly strategy = 'bulk' as const;
  readonly label: string;
  total?: number;

  constructor(
    private readonly bulk: BulkExportClient,
    private readonly plan: BulkPlan,
    private readonly onStatus?: (text: string) => void,
  ) {
    this.label = `via Bulk $export (${this.path()}${plan.since ? `, _since ${plan.since}` : ''})`;
  }

  private path(): string {
    return this.plan.groupId ? `Group/${encodeURIComponent(this.plan.groupId)}/$export` : 'Patient/$export';
  }

  async *iterate(from?: Cursor, signal?: AbortSignal): AsyncGenerator<Enumerated> {
    const cursor = from?.kind === 'bulk' ? from : await this.export(signal);
    const { files, requiresToken, transactionTime } = cursor;
    for (let f = cursor.file; f < files.length; f++) {
      const skip = f === cursor.file ? cursor.line : 0;
      let line = 0;
      for await (const text of this.bulk.lines(files[f], requiresToken, signal)) {
        line++;
        if (line <= skip) continue;
        if (signal?.aborted) return;
        const position: Cursor = { kind: 'bulk', files, requiresToken, transactionTime, file: f, line };
        yield { patientId: patientOfLine(text), cursor: position };
      }
      yield { cursor: { kind: 'bulk', files, requiresToken, transactionTime, file: f + 1, line: 0 } };
    }
  }

  /** Runs the export and returns the cursor at the start of its first file. */
  private async export(signal?: AbortSignal): Promise<Extract<Cursor, { kind: 'bulk' }>> {
    const path = this.path();
    const types = this.plan.since ? ['Patient', ...this.plan.types.filter((t) => t !== 'Patient')] : ['Patient'];
    const query: Record<string, string> = { _outputFormat: 'application/fhir+ndjson', _type: types.join(',') };
    if (this.plan.since) query._since = this.plan.since;
    const statusUrl = await this.bulk.kickOff(path, query);
    const manifest = await this.bulk.waitForManifest(statusUrl, signal, this.onStatus);
    const ordered = [...manifest.output].sort((a, b) => Number(b.type === 'Patient') - Number(a.type === 'Patient'));
    if (!this.plan.since)
      this.total = ordered.reduce((n, o) => n + (o.type === 'Patient' ? (o.count ?? 0) : 0), 0) || undefined;
    return {
      kind: 'bulk',
      files: ordered.map((o) => o.url),
      requiresToken: manifest.requiresAccessToken !== false,
      transactionTime: manifest.transactionTime,
      file: 0,
      line: 0,
    };
  }
}

/** The patient a line is about (the Patient itself, or its subject/patient); undefined when unparseable. */
function patientOfLine(text: string): string | undefined {
  try {
    return patientIdOf(JSON.parse(text) as Resource);
  } catch {
    return undefined;
  }
}
