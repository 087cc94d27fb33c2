/**
 * FHIR date/dateTime handling. FHIR allows partial dates (`YYYY`, `YYYY-MM`); date-only values are read
 * as UTC midnight so comparisons against the as-of instant are deterministic regardless of host time zone.
 */

const PARTIAL_DATE = /^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$/;

/** Parses a FHIR date or dateTime; partial dates resolve to their first instant. Undefined when unparseable. */
export function parseFhirDate(value: string | undefined): Date | undefined {
  if (!value) return undefined;
  const m = PARTIAL_DATE.exec(value);
  const d = m
    ? new Date(Date.UTC(Number(m[1]), m[2] ? Number(m[2]) - 1 : 0, m[3] ? Number(m[3]) : 1))
    : new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** The instant `years` calendar years before `date` (start of a recency window). */
export function yearsBefore(date: Date, years: number): Date {
  const d = new Date(date.getTime());
  d.setUTCFullYear(d.getUTCFullYear() - years);
  return d;
}

/** `YYYY-MM-DD` (UTC) of an instant, for messages and `InputUsed.effective`. */
export function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** Whole years from a birth date (y, m 1-based, d) to `asOf`, by UTC calendar. */
function wholeYears(y: number, m: number, d: number, asOf: Date): number {
  const beforeBirthday = asOf.getUTCMonth() + 1 < m || (asOf.getUTCMonth() + 1 === m && asOf.getUTCDate() < d);
  return asOf.getUTCFullYear() - y - (beforeBirthday ? 1 : 0);
}

/**
 * Age in whole years at `asOf` from a FHIR `birthDate`. For partial birth dates the age is returned only
 * when every possible birth day gives the same age (e.g. `1965-06` at 2021-04-01 is 55); otherwise undefined,
 * rather than guessing.
 */
export function ageInYears(birthDate: string | undefined, asOf: Date): number | undefined {
  const m = birthDate ? PARTIAL_DATE.exec(birthDate) : null;
  if (!m) return undefined;
  const y = Number(m[1]);
  if (m[3]) return wholeYears(y, Number(m[2]), Number(m[3]), asOf);
  const [firstMonth, lastMonth] = m[2] ? [Number(m[2]), Number(m[2])] : [1, 12];
  const lastDay = new Date(Date.UTC(y, lastMonth, 0)).getUTCDate();
  const oldest = wholeYears(y, firstMonth, 1, asOf);
  const youngest = wholeYears(y, lastMonth, lastDay, asOf);
  return oldest === youngest ? oldest : undefined;
}
