/**
 * Drug-ingredient tables used to flag "treated for hypertension" and "on a statin".
 * RxCUIs are the ingredient (IN) codes from docs/risk-models.md §0, which marks them as not yet checked
 * against RxNav; names match regardless, so a wrong RxCUI can only cost a code match, never add a false one.
 * Entries without `rxcui` are well-known members of the same ATC classes added by name only.
 */

export type DrugClass =
  | 'ace-inhibitor'
  | 'arb'
  | 'calcium-channel-blocker'
  | 'diuretic'
  | 'beta-blocker'
  | 'other-antihypertensive'
  | 'statin'
  | 'antiplatelet'
  | 'nsaid'
  | 'vitamin-k-antagonist';

export interface Ingredient {
  /** Lower-case ingredient name as it appears in RxNorm clinical-drug names. */
  name: string;
  rxcui?: string;
  drugClass: DrugClass;
  /** Other spellings seen in displays: brand names, or Synthea's "Simvistatin" typo (RxCUI 316672). */
  aliases?: readonly string[];
}

/** Antihypertensives: ATC C02, C03, C07, C08, C09. */
export const ANTIHYPERTENSIVE_INGREDIENTS: readonly Ingredient[] = [
  { name: 'lisinopril', rxcui: '29046', drugClass: 'ace-inhibitor' },
  { name: 'enalapril', rxcui: '3827', drugClass: 'ace-inhibitor' },
  { name: 'ramipril', rxcui: '35296', drugClass: 'ace-inhibitor' },
  { name: 'captopril', rxcui: '1998', drugClass: 'ace-inhibitor' },
  { name: 'benazepril', drugClass: 'ace-inhibitor' },
  { name: 'quinapril', drugClass: 'ace-inhibitor' },
  { name: 'fosinopril', drugClass: 'ace-inhibitor' },
  { name: 'losartan', rxcui: '52175', drugClass: 'arb' },
  { name: 'valsartan', rxcui: '69749', drugClass: 'arb' },
  { name: 'irbesartan', rxcui: '83818', drugClass: 'arb' },
  { name: 'olmesartan', rxcui: '321064', drugClass: 'arb' },
  { name: 'telmisartan', rxcui: '73494', drugClass: 'arb' },
  { name: 'candesartan', rxcui: '214354', drugClass: 'arb' },
  { name: 'azilsartan', rxcui: '1091643', drugClass: 'arb' },
  { name: 'amlodipine', rxcui: '17767', drugClass: 'calcium-channel-blocker' },
  { name: 'nifedipine', rxcui: '7417', drugClass: 'calcium-channel-blocker' },
  { name: 'diltiazem', rxcui: '3443', drugClass: 'calcium-channel-blocker' },
  { name: 'verapamil', rxcui: '11170', drugClass: 'calcium-channel-blocker' },
  { name: 'hydrochlorothiazide', rxcui: '5487', drugClass: 'diuretic', aliases: ['hctz'] },
  { name: 'chlorthalidone', rxcui: '2409', drugClass: 'diuretic' },
  { name: 'furosemide', rxcui: '4603', drugClass: 'diuretic', aliases: ['lasix'] },
  { name: 'spironolactone', rxcui: '9997', drugClass: 'diuretic' },
  { name: 'indapamide', drugClass: 'diuretic' },
  { name: 'bumetanide', drugClass: 'diuretic' },
  { name: 'torsemide', drugClass: 'diuretic' },
  { name: 'metoprolol', rxcui: '6918', drugClass: 'beta-blocker' },
  { name: 'atenolol', rxcui: '1202', drugClass: 'beta-blocker' },
  { name: 'carvedilol', rxcui: '20352', drugClass: 'beta-blocker' },
  { name: 'bisoprolol', rxcui: '19484', drugClass: 'beta-blocker' },
  { name: 'propranolol', rxcui: '8787', drugClass: 'beta-blocker' },
  { name: 'labetalol', rxcui: '6185', drugClass: 'beta-blocker' },
  { name: 'nebivolol', drugClass: 'beta-blocker' },
  { name: 'hydralazine', rxcui: '5470', drugClass: 'other-antihypertensive' },
  { name: 'clonidine', rxcui: '2599', drugClass: 'other-antihypertensive' },
  { name: 'doxazosin', rxcui: '49276', drugClass: 'other-antihypertensive' },
];

/** Statins: ATC C10AA (Synthea `medications/statin.json` also uses ezetimibe/simvastatin, matched by name). */
export const STATIN_INGREDIENTS: readonly Ingredient[] = [
  { name: 'atorvastatin', rxcui: '83367', drugClass: 'statin' },
  { name: 'simvastatin', rxcui: '36567', drugClass: 'statin', aliases: ['simvistatin'] },
  { name: 'rosuvastatin', rxcui: '301542', drugClass: 'statin' },
  { name: 'pravastatin', rxcui: '42463', drugClass: 'statin' },
  { name: 'lovastatin', rxcui: '6472', drugClass: 'statin' },
  { name: 'pitavastatin', drugClass: 'statin' },
  { name: 'fluvastatin', drugClass: 'statin' },
];

/**
 * Antiplatelets (ATC B01AC) and NSAIDs (ATC M01A), the HAS-BLED "drugs" item. RxCUIs of aspirin, clopidogrel,
 * ibuprofen and naproxen are from docs/risk-models.md §4 (HAS-BLED table); the rest match by name.
 */
export const BLEEDING_RISK_DRUG_INGREDIENTS: readonly Ingredient[] = [
  { name: 'aspirin', rxcui: '1191', drugClass: 'antiplatelet', aliases: ['acetylsalicylic acid'] },
  { name: 'clopidogrel', rxcui: '32968', drugClass: 'antiplatelet' },
  { name: 'prasugrel', drugClass: 'antiplatelet' },
  { name: 'ticagrelor', drugClass: 'antiplatelet' },
  { name: 'dipyridamole', drugClass: 'antiplatelet' },
  { name: 'ibuprofen', rxcui: '5640', drugClass: 'nsaid' },
  { name: 'naproxen', rxcui: '7258', drugClass: 'nsaid' },
  { name: 'diclofenac', drugClass: 'nsaid' },
  { name: 'celecoxib', drugClass: 'nsaid' },
  { name: 'meloxicam', drugClass: 'nsaid' },
  { name: 'indomethacin', drugClass: 'nsaid' },
  { name: 'ketorolac', drugClass: 'nsaid' },
];

/** Vitamin K antagonists (ATC B01AA), for the HAS-BLED "labile INR" item. Warfarin IN RxCUI 11289. */
export const VITAMIN_K_ANTAGONIST_INGREDIENTS: readonly Ingredient[] = [
  { name: 'warfarin', rxcui: '11289', drugClass: 'vitamin-k-antagonist', aliases: ['coumadin'] },
  { name: 'acenocoumarol', drugClass: 'vitamin-k-antagonist' },
  { name: 'phenprocoumon', drugClass: 'vitamin-k-antagonist' },
];

/** Medication groups the calculators ask about. */
export const MEDICATION_GROUPS = {
  antihypertensive: ANTIHYPERTENSIVE_INGREDIENTS,
  statin: STATIN_INGREDIENTS,
  bleedingRiskDrug: BLEEDING_RISK_DRUG_INGREDIENTS,
  vitaminKAntagonist: VITAMIN_K_ANTAGONIST_INGREDIENTS,
} as const;

export type MedicationGroup = keyof typeof MEDICATION_GROUPS;
