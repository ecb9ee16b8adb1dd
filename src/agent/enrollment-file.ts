import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type SignedEnrollment,
  signedEnrollmentSchema,
  verifyEnrollment,
} from '../common/enrollment.js';
import { writeFileAtomic } from '../common/files.js';

/**
 * The owner's certificate for this agent (`fairpatch agent enroll`), kept in its state directory and
 * sent with every receipt batch, so the log, witnesses and exports carry it wherever the receipts go.
 * It is public: it says who vouches for this key, nothing secret.
 */
const file = (stateDir: string): string => join(stateDir, 'enrollment.json');

export class EnrollmentError extends Error {
  override readonly name = 'EnrollmentError';
}

/** Checks a certificate against this agent (its key, its group, the owner's signature) and keeps it. */
export function installEnrollment(
  stateDir: string,
  text: string,
  agent: { publicKey: string; group: string },
): SignedEnrollment {
  let parsed: ReturnType<typeof signedEnrollmentSchema.safeParse>;
  try {
    parsed = signedEnrollmentSchema.safeParse(JSON.parse(text));
  } catch {
    throw new EnrollmentError('the certificate is not JSON (fairpatch owner enroll writes one)');
  }
  if (!parsed.success)
    throw new EnrollmentError(
      `not an enrollment certificate: ${parsed.error.issues[0]?.path.join('.') ?? ''} ${parsed.error.issues[0]?.message ?? ''}`,
    );
  const e = parsed.data.enrollment;
  if (e.agent !== agent.publicKey)
    throw new EnrollmentError(
      `the certificate is for agent ${e.agent.slice(0, 16)}…, this agent is ${agent.publicKey.slice(0, 16)}…`,
    );
  if (e.group !== agent.group)
    throw new EnrollmentError(
      `the certificate is for group ${e.group}, this agent polls for ${agent.group}`,
    );
  if (!verifyEnrollment(parsed.data))
    throw new EnrollmentError("the owner's signature on the certificate does not verify");
  writeFileAtomic(file(stateDir), `${JSON.stringify(parsed.data)}\n`, 0o644);
  return parsed.data;
}

/** The kept certificate, if any; a damaged file is ignored (receipts still go out, unvouched). */
export function readEnrollment(stateDir: string): SignedEnrollment | undefined {
  if (!existsSync(file(stateDir))) return undefined;
  try {
    const parsed = signedEnrollmentSchema.safeParse(
      JSON.parse(readFileSync(file(stateDir), 'utf8')),
    );
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
