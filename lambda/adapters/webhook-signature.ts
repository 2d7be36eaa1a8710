import { verify } from '@octokit/webhooks-methods';
import type { SignatureVerifier } from '../ports';

/** The only form GitHub sends: lower-case hex of an HMAC-SHA256. */
const SIGNATURE_FORMAT = /^sha256=[0-9a-f]{64}$/;

const DEFAULT_REFRESH_AFTER_MS = 60_000;

export interface SignatureVerifierOptions {
  /** Reads the webhook secret's value (raw, or JSON `{ "secret": "..." }`). */
  readonly readSecret: () => Promise<string>;
  /** Milliseconds since the epoch. @default Date.now */
  readonly now?: () => number;
  /**
   * After a mismatch, the secret is read again if the last read is at least this old: a rotated secret
   * is picked up, and a flood of bad signatures costs at most one read per interval.
   * @default 60_000
   */
  readonly refreshAfterMs?: number;
}

/**
 * Verifies `X-Hub-Signature-256` with the webhook secret, read once and cached. A value that is not of
 * GitHub's form resolves `false` without touching the secret; a failure to read the secret rejects.
 */
export function createSignatureVerifier(options: SignatureVerifierOptions): SignatureVerifier {
  const now = options.now ?? Date.now;
  const refreshAfterMs = options.refreshAfterMs ?? DEFAULT_REFRESH_AFTER_MS;
  let cached: string | undefined;
  let lastReadAt = Number.NEGATIVE_INFINITY;
  let reading: Promise<string> | undefined;

  // Concurrent invocations share one read; the attempt (not its success) starts the interval, so an
  // outage of Secrets Manager is not hammered by every bad delivery either.
  const read = (): Promise<string> => {
    if (!reading) {
      lastReadAt = now();
      reading = options.readSecret()
        .then((raw) => {
          cached = parseWebhookSecret(raw);
          return cached;
        })
        .finally(() => {
          reading = undefined;
        });
    }
    return reading;
  };

  return {
    async verify(body, signature) {
      if (typeof body !== 'string' || body.length === 0 || typeof signature !== 'string' || !SIGNATURE_FORMAT.test(signature)) {
        return false;
      }
      const secret = cached ?? (await read());
      if (await matches(secret, body, signature)) {
        return true;
      }
      if (now() - lastReadAt < refreshAfterMs) {
        return false;
      }
      const fresh = await read();
      return fresh !== secret && matches(fresh, body, signature);
    },
  };
}

/**
 * The secret from the stored value: the raw text, or the `secret` field of a JSON object; trimmed.
 * Errors never quote the value.
 */
export function parseWebhookSecret(raw: string): string {
  let secret = raw.trim();
  if (secret.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(secret);
    } catch {
      // Not JSON after all: a raw secret that happens to start with a brace.
      parsed = undefined;
    }
    if (parsed !== undefined) {
      const field = (parsed as { secret?: unknown }).secret;
      if (typeof field !== 'string') {
        throw new Error('the webhook secret is JSON without a "secret" string');
      }
      secret = field.trim();
    }
  }
  if (secret.length === 0) {
    throw new Error('the webhook secret is empty');
  }
  return secret;
}

/** Constant-time comparison by Octokit; its argument errors count as a mismatch. */
async function matches(secret: string, body: string, signature: string): Promise<boolean> {
  try {
    return await verify(secret, body, signature);
  } catch {
    return false;
  }
}
