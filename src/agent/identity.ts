import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ed25519PublicKey } from '../common/ed25519.js';
import { writeFileAtomic } from '../common/files.js';
import { AgentKeyError } from './errors.js';

/** The agent's own Ed25519 key: it signs what the agent was served, so no one can re-label it. */
export interface AgentIdentity {
  /** Hex public key: how auditors and a group's owner name (and pin) this agent. */
  publicKey: string;
  seed: Uint8Array;
}

/**
 * Loads the agent's key from its state directory, creating it (mode 0600) on first run. A key file
 * that does not hold a matching key pair is refused rather than silently replaced: the public key is
 * the agent's identity, pinned perhaps by the group's owner.
 */
export function loadIdentity(stateDir: string): AgentIdentity {
  const file = join(stateDir, 'agent.key');
  if (!existsSync(file)) {
    const seed = randomBytes(32);
    writeFileAtomic(
      file,
      `${JSON.stringify({ public: ed25519PublicKey(seed).toString('hex'), private: seed.toString('hex') })}\n`,
      0o600,
    );
  }
  const parsed = readKeyFile(file);
  if (typeof parsed?.private !== 'string' || !/^[0-9a-f]{64}$/.test(parsed.private))
    throw new AgentKeyError(file, 'does not hold an agent key');
  const seed = Buffer.from(parsed.private, 'hex');
  const publicKey = ed25519PublicKey(seed).toString('hex');
  if (parsed.public !== publicKey)
    throw new AgentKeyError(file, 'holds a public key that does not match its private key');
  return { publicKey, seed };
}

/** The key file's JSON; a file that is not JSON (truncated, overwritten) is a refused key, not a bug. */
function readKeyFile(file: string): { public?: unknown; private?: unknown } | undefined {
  const text = readFileSync(file, 'utf8');
  try {
    return JSON.parse(text) as { public?: unknown; private?: unknown } | undefined;
  } catch (error) {
    throw new AgentKeyError(file, 'is not a JSON key file (corrupt or truncated)', {
      cause: error,
    });
  }
}
