import { z } from 'zod';
import { signedEnrollmentSchema } from './enrollment.js';
import { groupName } from './names.js';
import { isoMillis } from './iso-millis.js';
import { statementKind } from './statement.js';

// An agent's install outcome, signed by the agent's own key as its observations are: the server
// counts only reports an agent key signed, charges them to that key's budget (and, unvouched, to the
// small pool all unvouched keys share), and no one can post outcomes in another agent's name.
// Shared by the agent (signs) and the server (verifies, counts).

const HEX = (n: number) => z.string().regex(new RegExp(`^[0-9a-f]{${n}}$`));

export const installReportSchema = z.strictObject({
  v: z.literal(1),
  /** The agent's Ed25519 public key, hex: the signer. */
  agent: HEX(64),
  group: groupName,
  product: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/),
  version: z.string().regex(/^[ -~]{1,64}$/, 'version: 1 to 64 printable ASCII characters'),
  outcome: z.enum(['installed', 'failed']),
  /** When the agent signed it: the server takes reports only this close to its own clock (replays). */
  at: isoMillis,
});
export type InstallReport = z.infer<typeof installReportSchema>;

/**
 * `POST /api/v1/reports`: one report and the agent's signature over it, and the owner's certificate
 * the agent holds, if any: any node checks it against the declared owners, so a node that never saw
 * the agent's receipts (another node, or a restart) still knows the key is vouched.
 */
export const signedInstallReportSchema = z.strictObject({
  report: installReportSchema,
  sig: HEX(128),
  enrollment: signedEnrollmentSchema.optional(),
});
export type SignedInstallReport = z.infer<typeof signedInstallReportSchema>;

/** Domain separated: a report signature can never be mistaken for an observation or anything else. */
const kind = statementKind<InstallReport>('fairpatch install-report v1', (r) => r.agent);

export function signInstallReport(report: InstallReport, seed: Uint8Array): SignedInstallReport {
  return { report, sig: kind.sign(report, seed) };
}

export function verifyInstallReport(signed: SignedInstallReport): boolean {
  return kind.verify(signed.report, signed.sig);
}
