import type { Cursor, Enumerated, Enumerator } from './cursor.js';

/** Enumerates a fixed list of patient ids (a Group's members, a `--patients` file). */
export class ListEnumerator implements Enumerator {
  readonly strategy = 'list' as const;
  readonly total: number;

  constructor(
    private readonly ids: readonly string[],
    /** Where the list came from, e.g. `from patients file cohort.txt`. */
    readonly label = 'from a list of patients',
  ) {
    this.total = ids.length;
  }

  async *iterate(from?: Cursor, signal?: AbortSignal): AsyncGenerator<Enumerated> {
    const start = from?.kind === 'list' ? from.index : 0;
    for (let i = start; i < this.ids.length; i++) {
      if (signal?.aborted) return;
      yield { patientId: this.ids[i], cursor: { kind: 'list', index: i + 1 } };
    }
  }
}
