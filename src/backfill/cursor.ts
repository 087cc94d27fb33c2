/**
 * Where an enumeration stands, stored in the Redis checkpoint so an interrupted backfill resumes
 * exactly there. Positions only (URLs under the EHR base, indexes): no patient data.
 */
export type Cursor =
  | {
      kind: 'bulk';
      /** Manifest file URLs still to read, in order, and whether they need our token. */
      files: string[];
      requiresToken: boolean;
      transactionTime: string;
      file: number;
      /** Lines of `files[file]` already consumed. */
      line: number;
    }
  | {
      kind: 'search';
      /** Which search of the plan (Patient first; with --since, then each model type). */
      phase: number;
      /** The page being consumed (null: the phase's first page). */
      url: string | null;
      /** Entries of that page already consumed. */
      index: number;
    }
  | { kind: 'list'; index: number };

/** One step of an enumeration: the patient it found (if the item was about one) and the cursor after it. */
export interface Enumerated {
  patientId?: string;
  cursor: Cursor;
}

/** A way to list the population: Bulk `$export`, paged search, or a fixed list. */
export interface Enumerator {
  readonly strategy: 'bulk' | 'search' | 'list';
  /** What it does, as the progress line says it after the phase: `by paging Patient search`, `via Bulk $export (...)`. */
  readonly label: string;
  /** Patients expected in total, when the EHR says so up front. */
  total?: number;
  iterate(from?: Cursor, signal?: AbortSignal): AsyncGenerator<Enumerated>;
}
