/** FHIR date, dateTime or instant: `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, or a date with time and offset. */
const FHIR_DATE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?)?)?$/;
const DAY_MS = 86_400_000;

/** True for strings shaped like a FHIR date/dateTime/instant. */
export function isFhirDate(value: string): boolean {
  return FHIR_DATE.test(value);
}

/**
 * Moves a FHIR date by `days` (negative: into the past), keeping its precision: a full date or
 * dateTime moves exactly (time of day and offset unchanged, so intervals stay exact); a year-month
 * moves by its mid-month day, a year by its mid-year day. Not a date: returned unchanged.
 */
export function shiftFhirDate(value: string, days: number): string {
  const m = FHIR_DATE.exec(value);
  if (!m) return value;
  const [, y, mo, d, time] = m;
  const anchor = Date.UTC(Number(y), mo ? Number(mo) - 1 : 6, d ? Number(d) : mo ? 15 : 2);
  const shifted = new Date(anchor + days * DAY_MS).toISOString();
  if (d) return shifted.slice(0, 10) + (time ?? '');
  return mo ? shifted.slice(0, 7) : shifted.slice(0, 4);
}

/** Shifts a JS date by whole days. */
export function shiftDate(date: Date, days: number): Date {
  return new Date(date.getTime() + days * DAY_MS);
}

/** Whole years between two ISO dates (age on `at` of someone born on `birth`). */
export function yearsBetween(birth: string, at: Date): number {
  const b = new Date(`${birth.slice(0, 10).padEnd(10, '-01').slice(0, 10)}T00:00:00Z`);
  let years = at.getUTCFullYear() - b.getUTCFullYear();
  const beforeBirthday =
    at.getUTCMonth() < b.getUTCMonth() || (at.getUTCMonth() === b.getUTCMonth() && at.getUTCDate() < b.getUTCDate());
  if (beforeBirthday) years--;
  return years;
}
