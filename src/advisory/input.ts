import { z } from 'zod';
import { cvss31 } from './cvss.js';

// What a vendor writes about a fix (the manifest's `advisory`). Everything else an advisory says
// (which versions are affected, which one fixes it, when it went public) comes from the release
// itself, so the advisory cannot contradict the fix it describes. Every string is bounded and
// printable: the vendor's file is hostile input to the server that renders it.

/** One line of text: no control characters (they would end up raw in canonical bytes). */
const line = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[^\p{Cc}]+$/u, 'no control characters');
/** A paragraph: newlines and tabs allowed, no other control characters. */
const text = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^(?:[^\p{Cc}]|[\n\t])+$/u, 'no control characters but newline and tab');
const httpsUrl = z
  .string()
  .max(1024)
  .regex(/^https:\/\/[^\s"<>\\^`{|}]+$/, 'an https:// URL')
  .refine((u) => URL.canParse(u), 'an https:// URL');

/**
 * The advisory's id: CSAF's `tracking.id` as it is, and OSV's id under the `x_` prefix OSV keeps
 * for databases it does not aggregate. Letters, digits and dashes, so the CSAF file name rule
 * (lowercase, anything else to `_`) is one-to-one on it.
 */
export const ADVISORY_ID_PATTERN = /^[A-Z][A-Z0-9]{1,15}(-[A-Za-z0-9]{1,24}){1,4}$/;

export const cvssV31Schema = z
  .strictObject({
    /** The base vector, metrics in the specification's order. */
    vector: z.string().max(64),
    /** Optional: when given, it must be the vector's base score (the validator checks the same). */
    score: z.number().min(0).max(10).optional(),
  })
  .superRefine((value, ctx) => {
    const computed = cvss31(value.vector);
    if (!computed) {
      ctx.addIssue({
        code: 'custom',
        path: ['vector'],
        message: 'a CVSS v3.1 base vector: CVSS:3.1/AV:_/AC:_/PR:_/UI:_/S:_/C:_/I:_/A:_',
      });
    } else if (value.score !== undefined && value.score !== computed.score) {
      ctx.addIssue({
        code: 'custom',
        path: ['score'],
        message: `the vector's base score is ${computed.score}`,
      });
    }
  });

export const advisoryInputSchema = z.strictObject({
  id: z.string().regex(ADVISORY_ID_PATTERN, 'id: such as ACME-2026-0001'),
  title: line(200),
  /** The vendor's web site: CSAF's publisher namespace. */
  namespace: httpsUrl,
  cves: z
    .array(
      z.strictObject({
        id: z.string().regex(/^CVE-\d{4}-\d{4,19}$/, 'a CVE id such as CVE-2026-4242'),
        title: line(200).optional(),
        description: text(4000).optional(),
        cvss_v3: cvssV31Schema,
      }),
    )
    .min(1)
    .max(32)
    .refine((cves) => new Set(cves.map((c) => c.id)).size === cves.length, 'each CVE once'),
  notes: z
    .array(
      z.strictObject({
        category: z.enum(['summary', 'description', 'details', 'general', 'faq', 'other']),
        title: line(200).optional(),
        text: text(8000),
      }),
    )
    .max(16)
    .default([]),
  references: z
    .array(z.strictObject({ url: httpsUrl, summary: line(200) }))
    .max(32)
    .default([]),
  acknowledgments: z
    .array(
      z.strictObject({
        names: z.array(line(120)).min(1).max(16).optional(),
        organization: line(200).optional(),
        summary: line(400).optional(),
      }),
    )
    .max(32)
    .default([])
    .refine((list) => list.every((a) => a.names || a.organization), 'names or an organization'),
});

export type AdvisoryInput = z.output<typeof advisoryInputSchema>;
