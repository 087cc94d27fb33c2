import { z } from 'zod';

const years = (max: number) => z.number().positive().max(max);

/**
 * Recency windows relative to the as-of date. Defaults: lipids 5 y (the 2013 guideline re-assesses risk
 * factors every 4–6 years); BP, BMI, smoking 2 y (measured at nearly every visit; CMS138 uses 24 months for
 * tobacco); creatinine/eGFR/UACR 2 y (kidney function drifts); HbA1c 2 y (PREVENT's optional predictor; a
 * glycaemic marker, re-measured at least yearly in diabetes care); acute vital signs 24 h (NEWS2/qSOFA describe
 * the current state); medications: a completed order counts as taken for 365 days, and an intermittent drug
 * (NSAID, antiplatelet) for 90 days.
 */
export const RecencySchema = z
  .object({
    lipidsYears: years(20).default(5),
    vitalsYears: years(20).default(2),
    smokingYears: years(20).default(2),
    kidneyYears: years(20).default(2),
    hba1cYears: years(20).default(2),
    /** Hours: NEWS2 and qSOFA inputs must be this recent. */
    acuteHours: z
      .number()
      .positive()
      .max(24 * 30)
      .default(24),
    /** Days: INR values in this window decide HAS-BLED "labile INR". */
    inrDays: z.number().int().positive().max(3650).default(180),
    medicationDays: z.number().int().positive().max(3650).default(365),
    intermittentDrugDays: z.number().int().positive().max(3650).default(90),
  })
  .strict();

/** Parameters of every calculator, as they appear under `parameters` in the models file. */
export const CalculatorParamsSchema = z
  .object({
    recency: RecencySchema.prefault({}),
    kfre: z
      .object({
        /** Baseline survival: North American (Tangri 2011) or the 2016 non-North-American recalibration. */
        region: z.enum(['north-america', 'non-north-america']).default('north-america'),
      })
      .strict()
      .prefault({}),
    cha2ds2vasc: z
      .object({
        /** Annual stroke-rate table behind `probability`: ESC 2010 Table 8 (Lip 2010) or Friberg 2012. */
        strokeRateTable: z.enum(['esc-2010', 'friberg-2012']).default('esc-2010'),
      })
      .strict()
      .prefault({}),
    prevent: z
      .object({
        /** 10-year risk bands as fractions [borderline, intermediate, high]; no official scheme exists yet. */
        tenYearBands: z.tuple([z.number(), z.number(), z.number()]).default([0.05, 0.075, 0.2]),
        /** 30-year risk bands as fractions [moderate, high] (a fhir-assess convention, not a guideline band). */
        thirtyYearBands: z.tuple([z.number(), z.number()]).default([0.1, 0.3]),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type CalculatorParams = z.infer<typeof CalculatorParamsSchema>;
export type Recency = CalculatorParams['recency'];

/** Every parameter at its default. */
export const DEFAULT_PARAMS: CalculatorParams = CalculatorParamsSchema.parse({});
