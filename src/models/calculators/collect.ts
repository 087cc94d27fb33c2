import type { Bundle } from '@medplum/fhirtypes';
import type { CalculatorResult } from '../calculator.js';
import {
  activeConditions,
  activeMedications,
  type CodeSet,
  type ConditionMatch,
  type Demographics,
  everConditions,
  getDemographics,
  getSmokingStatus,
  latestObservationValue,
  type MedicationGroup,
  type ObservationSpec,
  type ObservationValue,
} from '../fhir-inputs/index.js';
import type { InputMissing, InputUsed, PatientRecord, Prediction } from '../model.js';

/** An inclusive valid range with its unit, e.g. `[90, 180, 'mmHg']`. */
export type Range = readonly [lo: number, hi: number];

/** A finding that only matters through its presence, e.g. "has diabetes". */
export interface Flag {
  present: boolean;
  /** `Type/id` of the first matching resource. */
  source?: string;
  /** Every matching resource, for `basis`. */
  sources: string[];
  label?: string;
  date?: string;
}

/**
 * Gathers one calculator's inputs: what was used (with its source), what was missing, stale or out of range,
 * and the basis references. Each calculator makes one per compute call.
 */
export class InputCollector {
  readonly used: InputUsed[] = [];
  readonly missing: InputMissing[] = [];
  readonly basis = new Set<string>();
  readonly bundle: Bundle;

  constructor(
    record: PatientRecord,
    readonly asOf: Date,
  ) {
    this.bundle = record.bundle;
  }

  /** Records an input the calculation used. */
  use(input: InputUsed): void {
    this.used.push(input);
    if (input.source) this.basis.add(input.source);
  }

  /** Records an input that could not be used (with the value found, when it was stale or out of range). */
  miss(name: string, reason: InputMissing['reason'], detail?: string, last?: InputMissing['last']): void {
    this.missing.push({ name, reason, detail, ...(last && { last }) });
  }

  /** A measured value checked against `range`, or undefined with the reason recorded. */
  measured(spec: ObservationSpec, range?: Range): number | undefined {
    return this.accept(latestObservationValue(this.bundle, spec, this.asOf), range);
  }

  /** Like `measured`, for a value already looked up (or derived). */
  accept(value: ObservationValue, range?: Range, derivation?: string): number | undefined {
    if (!value.ok) {
      this.miss(value.name, value.reason, value.detail, value.last);
      return undefined;
    }
    if (range && (value.value < range[0] || value.value > range[1])) {
      const shown = Number.isInteger(value.value) ? `${value.value}` : value.value.toFixed(1);
      const detail = `${shown} ${value.unit} on ${value.effective} (${value.source}) is outside ${range[0]}–${range[1]}`;
      const { unit, effective, source } = value;
      this.miss(value.name, 'out-of-range', detail, { value: value.value, unit, effective, source });
      return undefined;
    }
    this.use({
      name: value.name,
      value: value.value,
      unit: value.unit,
      source: value.source,
      effective: value.effective,
      derivation,
    });
    return value.value;
  }

  /** The Patient's demographics, or undefined with "Patient missing" recorded. */
  demographics(): Demographics | undefined {
    const d = getDemographics(this.bundle, this.asOf);
    if (!d) this.miss('Patient', 'missing', 'the record holds no Patient');
    return d;
  }

  /** Whole-year age within `range` (inclusive), recorded as used; else undefined with the reason. */
  age(d: Demographics, range: Range): number | undefined {
    if (d.ageYears === undefined) {
      this.miss('Age', 'missing', `birthDate "${d.birthDate ?? ''}" gives no whole age`);
      return undefined;
    }
    if (d.ageYears < range[0] || d.ageYears > range[1]) {
      this.miss('Age', 'out-of-range', `${d.ageYears} y is outside ${range[0]}–${range[1]}`);
      return undefined;
    }
    this.use({ name: 'Age', value: d.ageYears, unit: 'a', source: d.source });
    return d.ageYears;
  }

  /** Administrative sex when male or female (the equations are sex-specific); else undefined with the reason. */
  sex(d: Demographics, why: string): 'male' | 'female' | undefined {
    if (d.sex === 'male' || d.sex === 'female') {
      this.use({ name: 'Sex', value: d.sex, source: d.source });
      return d.sex;
    }
    this.miss('Sex', d.sex ? 'not-applicable' : 'missing', why);
    return undefined;
  }

  /** Whether a condition in `set` is active (or was ever recorded, with `ever`), recorded as a yes/no input. */
  condition(name: string, set: CodeSet, ever = false): Flag {
    const found = (ever ? everConditions : activeConditions)(this.bundle, set, this.asOf);
    return this.flag(name, found.map(conditionEvidence));
  }

  /** Whether the patient takes a drug of `group` at as-of (orders count for `recentDays`), as a yes/no input. */
  medication(name: string, group: MedicationGroup, recentDays: number): Flag {
    const found = activeMedications(this.bundle, group, this.asOf, recentDays);
    return this.flag(
      name,
      found.map((m) => ({ source: m.source, label: m.ingredient, date: m.authoredOn })),
    );
  }

  /** Current smoker (true/false) from the newest smoking status within `maxAgeYears`; undefined when unknown. */
  currentSmoker(maxAgeYears: number): boolean | undefined {
    const s = getSmokingStatus(this.bundle, this.asOf, maxAgeYears);
    if (!s.ok) {
      this.miss('Smoking status', s.reason, s.detail, s.last);
      return undefined;
    }
    if (s.status === 'unknown') {
      this.miss('Smoking status', 'missing', `recorded as unknown (${s.source})`);
      return undefined;
    }
    const current = s.status === 'current';
    this.use({ name: 'Current smoker', value: current, source: s.source, effective: s.effective });
    return current;
  }

  /** Records a yes/no input from evidence found by any helper. */
  flag(name: string, found: { source: string; label?: string; date?: string }[]): Flag {
    const first = found[0];
    this.use({ name, value: found.length > 0, source: first?.source, effective: first?.date });
    for (const f of found) this.basis.add(f.source);
    return {
      present: found.length > 0,
      source: first?.source,
      sources: found.map((f) => f.source),
      label: first?.label,
      date: first?.date,
    };
  }

  /** The result: predictions (when any), with every missing input and the basis. */
  result(predictions: Prediction[]): CalculatorResult {
    return {
      predictions: predictions.length > 0 ? predictions : undefined,
      missing: this.missing,
      basis: predictions.length > 0 ? [...this.basis] : [],
    };
  }
}

/** A Condition match as generic evidence. */
export function conditionEvidence(c: ConditionMatch): { source: string; label: string; date?: string } {
  return { source: c.source, label: c.label, date: c.onset };
}

/** An exclusion result: the calculator does not apply to this patient. */
export function excluded(reason: string): CalculatorResult {
  return { missing: [], basis: [], exclusion: reason };
}
