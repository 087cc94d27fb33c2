/** Helpers that read calculator inputs out of a record Bundle relative to an as-of date. */
export * from './bundle.js';
export * from './charlson-sets.js';
export * from './clinical-sets.js';
export * from './codes.js';
export * from './condition-sets.js';
export * from './conditions.js';
export * from './dates.js';
export * from './demographics.js';
export * from './medication-tables.js';
export * from './medications.js';
export * from './observation-specs.js';
export * from './observations.js';
export * from './procedures.js';
export * from './smoking.js';
export * from './units.js';
