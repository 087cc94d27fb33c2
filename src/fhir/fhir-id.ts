/**
 * A FHIR id (R4: 1-64 of `A-Z a-z 0-9 - .`), as a regex source to embed in larger patterns.
 * `.` and `..` match the R4 rule but would climb a URL path (`Patient/..` is the base itself), so
 * they are not ids here: nothing that reaches an EHR path may be one of them.
 */
export const FHIR_ID_SOURCE = '(?!\\.{1,2}(?![A-Za-z0-9\\-.]))[A-Za-z0-9\\-.]{1,64}';

/** A whole string that is a FHIR id. */
export const FHIR_ID = new RegExp(`^${FHIR_ID_SOURCE}$`);

/** A FHIR resource type name (`Patient`, `RiskAssessment`). */
export const RESOURCE_TYPE = /^[A-Z][A-Za-z]{1,63}$/;
