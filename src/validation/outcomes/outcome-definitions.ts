import type { CodeSet } from '../../models/fhir-inputs/index.js';
import {
  CORONARY_DEATH_CAUSES,
  HEART_FAILURE_EVENT,
  KIDNEY_FAILURE_EVENT,
  KIDNEY_REPLACEMENT,
  MAJOR_BLEEDING,
  MYOCARDIAL_INFARCTION,
  STROKE_EVENT,
  SYSTEMIC_EMBOLISM,
} from './outcome-codes.js';

/** What counts as the predicted outcome after the as-of date, found in the same longitudinal record. */
export interface OutcomeDefinition {
  id: string;
  title: string;
  /** The definition in words, with its source. */
  definition: string;
  /** A Condition in one of these sets with onset after the as-of date. */
  conditions: readonly CodeSet[];
  /** A Procedure in one of these sets performed after the as-of date. */
  procedures?: readonly CodeSet[];
  /** A reported eGFR below this value (mL/min/1.73 m²) after the as-of date. */
  egfrBelow?: number;
  /** Deaths that are the outcome: every death, or those whose recorded cause is in these sets. */
  deathCauses: 'any' | readonly CodeSet[];
}

const HARD_ASCVD: OutcomeDefinition = {
  id: 'hard-ascvd',
  title: 'Hard ASCVD (nonfatal MI, CHD death, fatal or nonfatal stroke)',
  definition:
    'First nonfatal myocardial infarction, coronary heart disease death, or fatal or nonfatal stroke ' +
    '(Goff DC Jr et al., 2013 ACC/AHA risk assessment guideline, Circulation 2014;129:S49, "hard ASCVD"; ' +
    'PREVENT ASCVD, Khan SS et al., Circulation 2024;149:430, the same components).',
  conditions: [MYOCARDIAL_INFARCTION, STROKE_EVENT],
  deathCauses: [CORONARY_DEATH_CAUSES, STROKE_EVENT],
};

const HEART_FAILURE: OutcomeDefinition = {
  id: 'heart-failure',
  title: 'Heart failure',
  definition:
    'First diagnosis of heart failure, or death from it (PREVENT HF, Khan SS et al., Circulation 2024;149:430).',
  conditions: [HEART_FAILURE_EVENT],
  deathCauses: [HEART_FAILURE_EVENT],
};

const TOTAL_CVD: OutcomeDefinition = {
  id: 'total-cvd',
  title: 'Total CVD (ASCVD or heart failure)',
  definition:
    'Hard ASCVD or heart failure, whichever comes first (PREVENT total CVD, Khan SS et al., Circulation 2024;149:430).',
  conditions: [MYOCARDIAL_INFARCTION, STROKE_EVENT, HEART_FAILURE_EVENT],
  deathCauses: [CORONARY_DEATH_CAUSES, STROKE_EVENT, HEART_FAILURE_EVENT],
};

const KIDNEY_FAILURE: OutcomeDefinition = {
  id: 'kidney-failure',
  title: 'Kidney failure (dialysis, transplant, or eGFR < 15)',
  definition:
    'Kidney failure: dialysis or kidney transplant (Tangri N et al., JAMA 2011;305:1553, the KFRE outcome), ' +
    'a recorded end-stage kidney disease / CKD stage 5 diagnosis, or a reported eGFR below 15 mL/min/1.73 m² ' +
    '(KDIGO 2012 G5; one value, since a confirming second one is often absent from the record).',
  conditions: [KIDNEY_FAILURE_EVENT],
  procedures: [KIDNEY_REPLACEMENT],
  egfrBelow: 15,
  deathCauses: [],
};

const DEATH: OutcomeDefinition = {
  id: 'death',
  title: 'Death from any cause',
  definition:
    'Death from any cause, from Patient.deceasedDateTime (Charlson ME et al., J Clin Epidemiol 1994;47:1245).',
  conditions: [],
  deathCauses: 'any',
};

const STROKE_SE: OutcomeDefinition = {
  id: 'stroke-systemic-embolism',
  title: 'Stroke or systemic embolism',
  definition: 'Stroke or systemic thromboembolism (Lip GYH et al., Chest 2010;137:263, the CHA2DS2-VASc outcome).',
  conditions: [STROKE_EVENT, SYSTEMIC_EMBOLISM],
  deathCauses: [STROKE_EVENT],
};

const BLEEDING: OutcomeDefinition = {
  id: 'major-bleeding',
  title: 'Major bleeding',
  definition:
    'Major bleeding (Pisters R et al., Chest 2010;138:1093, the HAS-BLED outcome): intracranial or ' +
    'gastrointestinal haemorrhage, or haemorrhage recorded as a diagnosis; severity is not in the record.',
  conditions: [MAJOR_BLEEDING],
  deathCauses: [MAJOR_BLEEDING],
};

/** Outcome definitions by prediction id (pattern), for every prediction with a probability over a horizon. */
const BY_PREDICTION: readonly [RegExp, OutcomeDefinition][] = [
  [/^pce-2013$/, HARD_ASCVD],
  [/^prevent(?:-base)?-\d+y-ascvd$/, HARD_ASCVD],
  [/^prevent(?:-base)?-\d+y-cvd$/, TOTAL_CVD],
  [/^prevent(?:-base)?-\d+y-hf$/, HEART_FAILURE],
  [/^kfre-4v-\d+y$/, KIDNEY_FAILURE],
  [/^charlson-age-adjusted$/, DEATH],
  [/^cha2ds2-vasc$/, STROKE_SE],
  [/^has-bled$/, BLEEDING],
];

/** The outcome a prediction id predicts, or undefined for predictions validation does not cover. */
export function outcomeFor(predictionId: string): OutcomeDefinition | undefined {
  return BY_PREDICTION.find(([pattern]) => pattern.test(predictionId))?.[1];
}

/** Prediction ids (as patterns) validation covers, for messages. */
export const VALIDATABLE =
  'pce-2013, prevent-{10,30}y-{ascvd,cvd,hf}, kfre-4v-{2,5}y, charlson-age-adjusted, cha2ds2-vasc, has-bled';

/** Resource types the outcome search reads (Encounters give the last contact, i.e. the end of follow-up). */
export const OUTCOME_TYPES = ['Patient', 'Condition', 'Procedure', 'Observation', 'Encounter'];
