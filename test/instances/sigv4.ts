/**
 * What the agent-request tests check of a request sent by the real curl: its AWS Signature Version 4,
 * recomputed here by an independent implementation, and the command lines of the processes around it.
 */
import { createHash, createHmac } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';

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

/** The command lines (of every process this user may read) that contain one of these strings. */
export function commandLinesWith(secrets: string[]): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let line: string;
    try {
      line = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue; // gone, or not ours to read
    }
    if (secrets.some((s) => line.includes(s))) {
      found.push(`${pid}: ${line}`);
    }
  }
  return found;
}
