/**
 * For the tests that send the programs' agent requests with the real curl: a loopback HTTP server that
 * plays the instance metadata service (IMDSv2) and the agent's Function URL, and what they check of a
 * request: its AWS Signature Version 4, recomputed here by an independent implementation, and the command
 * lines of the processes around it.
 */
import { createHash, createHmac } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import { CREDENTIALS, INSTANCE_ID } from './harness';

export interface SignedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

export interface SignatureCheck {
  readonly valid: boolean;
  readonly accessKeyId?: string;
  /** region/service of the credential scope */
  readonly scope?: string;
  readonly signedHeaders?: string[];
}

const sha256 = (data: string): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data).digest();

/** Recomputes an AWS Signature Version 4 (Authorization header form) and compares it with the request's. */
export function verifySigV4(request: SignedRequest, secretAccessKey: string): SignatureCheck {
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/
    .exec(String(request.headers.authorization ?? ''));
  if (!match) {
    return { valid: false };
  }
  const [, accessKeyId, date, region, service, signedHeaderList, signature] = match;
  const signedHeaders = signedHeaderList.split(';');
  const amzDate = String(request.headers['x-amz-date'] ?? '');
  const canonicalHeaders = signedHeaders.map((h) => `${h}:${String(request.headers[h] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const [path, query = ''] = request.path.split('?');
  const canonicalRequest = [request.method, path, query, canonicalHeaders, signedHeaderList, sha256(request.body)].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, `${date}/${region}/${service}/aws4_request`, sha256(canonicalRequest)].join('\n');
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, date), region), service), 'aws4_request');
  const expected = createHmac('sha256', signingKey).update(stringToSign).digest('hex');
  return { valid: expected === signature && amzDate.startsWith(date), accessKeyId, scope: `${region}/${service}`, signedHeaders };
}

/**
 * The command lines that contain one of these strings, of this process's descendants only (the programs
 * a test started, and what they started): test files that run side by side in other workers, which may
 * start processes with the same test credentials on purpose, are not looked at.
 */
export function commandLinesWith(secrets: string[]): string[] {
  const parents = new Map<number, number>();
  const commandLines = new Map<number, string>();
  for (const entry of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    const pid = Number(entry);
    try {
      // The parent is the second field after the command name, which is in parentheses and may hold any character.
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      parents.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      commandLines.set(pid, fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '));
    } catch {
      continue; // gone, or not ours to read
    }
  }
  const descends = (pid: number): boolean => {
    for (let p = parents.get(pid), hops = 0; p !== undefined && p > 0 && hops < 64; p = parents.get(p), hops++) {
      if (p === process.pid) {
        return true;
      }
    }
    return false;
  };
  return [...commandLines].filter(([pid, line]) => descends(pid) && secrets.some((s) => line.includes(s))).map(([pid, line]) => `${pid}: ${line}`);
}

/** A request to the agent's URL, with the command lines that showed a credential while it was in flight. */
export interface AgentHit extends SignedRequest {
  readonly exposed: string[];
}

export interface LoopbackAws {
  /** The server's base URL: the metadata service's (RUNNER_FLEET_IMDS); the agent is at `${url}/agent/`. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Starts the server: the metadata service answers with a session token (PUT), then the instance id, the
 * region, the role and its credentials (GET with the token); every request to `/agent/` goes to `agent`.
 */
export async function loopbackAws(options: {
  readonly role: string;
  /** Credentials as the metadata service writes them, over several lines. @default false */
  readonly prettyCredentials?: boolean;
  readonly agent: (hit: AgentHit) => Promise<{ status: number; text: string }> | { status: number; text: string };
}): Promise<LoopbackAws> {
  const credentials = { Code: 'Success', Type: 'AWS-HMAC', ...CREDENTIALS, Expiration: '2026-12-02T23:00:00Z' };
  const meta: Record<string, string> = {
    'instance-id': INSTANCE_ID,
    'placement/region': 'eu-west-1',
    'iam/security-credentials/': options.role,
    [`iam/security-credentials/${options.role}`]: JSON.stringify(credentials, null, options.prettyCredentials ? 2 : undefined),
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const url = req.url ?? '';
      const reply = ({ status, text }: { status: number; text: string }): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(text);
      };
      if (req.method === 'PUT' && url === '/latest/api/token') {
        return reply({ status: 200, text: 'IMDS-SESSION' });
      }
      if (req.method === 'GET' && url.startsWith('/latest/meta-data/') && req.headers['x-aws-ec2-metadata-token'] === 'IMDS-SESSION') {
        const value = meta[url.slice('/latest/meta-data/'.length)];
        return reply(value === undefined ? { status: 404, text: '' } : { status: 200, text: value });
      }
      if (url !== '/agent/') {
        return reply({ status: 404, text: '' });
      }
      const exposed = commandLinesWith([CREDENTIALS.SecretAccessKey, CREDENTIALS.Token]);
      void Promise.resolve(options.agent({ method: req.method ?? '', path: url, headers: req.headers, body, exposed })).then(reply);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
