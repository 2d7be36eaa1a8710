import { createHmac } from 'node:crypto';
import { createSignatureVerifier, parseWebhookSecret } from '../../../lambda/adapters/webhook-signature';

const SECRET = 'It\'s a Secret to Everybody';
const BODY = JSON.stringify({ action: 'queued', workflow_job: { id: 31415926535, labels: ['self-hosted', 'linux'] } });

/** The header GitHub sends: `sha256=` and the lower-case hex HMAC-SHA256 of the raw body. */
function sign(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** A secret store whose value can be changed (rotated) and whose reads are counted. */
interface SecretStore {
  value: string;
  reads: number;
  readonly readSecret: () => Promise<string>;
}

function secretStore(initial: string): SecretStore {
  const store: SecretStore = {
    value: initial,
    reads: 0,
    readSecret: async () => {
      store.reads++;
      return store.value;
    },
  };
  return store;
}

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

describe('verify', () => {
  test('a valid signature of the raw body; the secret is read once and cached', async () => {
    const store = secretStore(SECRET);
    const verifier = createSignatureVerifier({ readSecret: store.readSecret });

    expect(await verifier.verify(BODY, sign(SECRET, BODY))).toBe(true);
    expect(await verifier.verify('{"zen":"Keep it logically awesome."}', sign(SECRET, '{"zen":"Keep it logically awesome."}'))).toBe(true);

    expect(store.reads).toBe(1);
  });

  test('GitHub\'s documented example signature', async () => {
    // From GitHub's "Validating webhook deliveries" documentation.
    const verifier = createSignatureVerifier({ readSecret: async () => SECRET });
    expect(await verifier.verify('Hello, World!', 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17')).toBe(true);
  });

  test.each([
    ['a wrong secret', sign('not the secret', BODY), BODY],
    ['a tampered body', sign(SECRET, BODY), BODY.replace('linux', 'macos')],
    ['a body with a trailing newline added', sign(SECRET, BODY), `${BODY}\n`],
    ['no sha256= prefix', sign(SECRET, BODY).slice('sha256='.length), BODY],
    ['a sha1= prefix', sign(SECRET, BODY).replace('sha256=', 'sha1='), BODY],
    ['an empty header', '', BODY],
    ['only the prefix', 'sha256=', BODY],
    ['upper-case hex (GitHub sends lower case only)', `sha256=${sign(SECRET, BODY).slice(7).toUpperCase()}`, BODY],
    ['a truncated signature', sign(SECRET, BODY).slice(0, -2), BODY],
    ['a signature too long', `${sign(SECRET, BODY)}00`, BODY],
    ['non-hex characters', `sha256=${'z'.repeat(64)}`, BODY],
    ['non-ASCII characters of the right length', `sha256=${'é'.repeat(64)}`, BODY],
    ['surrounding whitespace', ` ${sign(SECRET, BODY)} `, BODY],
    ['an empty body', sign(SECRET, ''), ''],
  ])('%s resolves false, never throws', async (_case, signature, body) => {
    const verifier = createSignatureVerifier({ readSecret: async () => SECRET, refreshAfterMs: Number.POSITIVE_INFINITY });
    await expect(verifier.verify(body, signature)).resolves.toBe(false);
  });

  test('a malformed header is refused without reading the secret', async () => {
    const store = secretStore(SECRET);
    const verifier = createSignatureVerifier({ readSecret: store.readSecret });

    expect(await verifier.verify(BODY, 'sha1=0123')).toBe(false);
    expect(await verifier.verify(BODY, undefined as unknown as string)).toBe(false);

    expect(store.reads).toBe(0);
  });
});

describe('a rotated secret', () => {
  test('is picked up once the cached one is older than the refresh interval, not before', async () => {
    const store = secretStore('old secret');
    const time = clock();
    const verifier = createSignatureVerifier({ readSecret: store.readSecret, now: time.now });
    expect(await verifier.verify(BODY, sign('old secret', BODY))).toBe(true);

    store.value = 'new secret';
    time.t += 59_999;
    expect(await verifier.verify(BODY, sign('new secret', BODY))).toBe(false);
    expect(store.reads).toBe(1);

    time.t += 1;
    expect(await verifier.verify(BODY, sign('new secret', BODY))).toBe(true);
    expect(store.reads).toBe(2);

    // The new secret is cached now; the old one no longer matches, and costs no read within the interval.
    time.t += 10;
    expect(await verifier.verify(BODY, sign('new secret', BODY))).toBe(true);
    expect(await verifier.verify(BODY, sign('old secret', BODY))).toBe(false);
    expect(store.reads).toBe(2);
  });

  test('a flood of bad signatures costs at most one read per interval, concurrent ones sharing it', async () => {
    const store = secretStore(SECRET);
    const time = clock();
    const verifier = createSignatureVerifier({ readSecret: store.readSecret, now: time.now, refreshAfterMs: 1000 });
    const bad = sign('an attacker\'s guess', BODY);

    const first = await Promise.all(Array.from({ length: 20 }, () => verifier.verify(BODY, bad)));
    expect(first.every((ok) => !ok)).toBe(true);
    expect(store.reads).toBe(1);

    time.t += 1000;
    const second = await Promise.all(Array.from({ length: 20 }, () => verifier.verify(BODY, bad)));
    expect(second.every((ok) => !ok)).toBe(true);
    expect(store.reads).toBe(2);

    for (let i = 0; i < 20; i++) {
      time.t += 50;
      expect(await verifier.verify(BODY, bad)).toBe(false);
    }
    expect(store.reads).toBe(3);
  });

  test('a failed refresh rejects, and is not retried before the interval is over', async () => {
    const time = clock();
    const readSecret = jest.fn<Promise<string>, []>()
      .mockResolvedValueOnce('old secret')
      .mockRejectedValueOnce(new Error('Secrets Manager is unavailable'))
      .mockResolvedValue('new secret');
    const verifier = createSignatureVerifier({ readSecret, now: time.now });
    expect(await verifier.verify(BODY, sign('old secret', BODY))).toBe(true);

    time.t += 60_000;
    await expect(verifier.verify(BODY, sign('new secret', BODY))).rejects.toThrow('Secrets Manager is unavailable');

    time.t += 1000;
    expect(await verifier.verify(BODY, sign('new secret', BODY))).toBe(false);
    expect(await verifier.verify(BODY, sign('old secret', BODY))).toBe(true);
    expect(readSecret).toHaveBeenCalledTimes(2);

    time.t += 60_000;
    expect(await verifier.verify(BODY, sign('new secret', BODY))).toBe(true);
    expect(readSecret).toHaveBeenCalledTimes(3);
  });
});

describe('the secret\'s value', () => {
  test.each([
    ['raw, with a trailing newline', `${SECRET}\n`],
    ['JSON-wrapped', JSON.stringify({ secret: SECRET })],
    ['JSON-wrapped, padded', `  {"secret": "  ${SECRET} "}\n`],
  ])('%s', async (_case, stored) => {
    const verifier = createSignatureVerifier({ readSecret: async () => stored });
    expect(await verifier.verify(BODY, sign(SECRET, BODY))).toBe(true);
  });

  test('a raw secret that merely starts with a brace is taken as it is', () => {
    expect(parseWebhookSecret('{not-json ')).toBe('{not-json');
  });

  test.each([
    ['empty', '  \n', 'the webhook secret is empty'],
    ['JSON with an empty secret', '{"secret":" "}', 'the webhook secret is empty'],
    ['JSON without a secret field', '{"token":"ghp_hunter2"}', 'the webhook secret is JSON without a "secret" string'],
    ['JSON with a secret that is not a string', '{"secret":12345}', 'the webhook secret is JSON without a "secret" string'],
  ])('%s is refused, without quoting the value', async (_case, stored, message) => {
    const verifier = createSignatureVerifier({ readSecret: async () => stored });
    const failure = await verifier.verify(BODY, sign(SECRET, BODY)).catch((e: Error) => e);
    expect((failure as Error).message).toBe(message);
    expect((failure as Error).message).not.toContain('hunter2');
  });

  test('a failure to read the secret rejects (the handler answers 500), and the next call reads again', async () => {
    const readSecret = jest.fn<Promise<string>, []>()
      .mockRejectedValueOnce(Object.assign(new Error('User is not authorized to perform: secretsmanager:GetSecretValue'), { name: 'AccessDeniedException' }))
      .mockResolvedValue(SECRET);
    const verifier = createSignatureVerifier({ readSecret });

    await expect(verifier.verify(BODY, sign(SECRET, BODY))).rejects.toThrow('not authorized');
    expect(await verifier.verify(BODY, sign(SECRET, BODY))).toBe(true);
    expect(readSecret).toHaveBeenCalledTimes(2);
  });
});
