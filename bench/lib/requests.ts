/**
 * What kind of GitHub request the fake server received, and tallies of them.
 */
import type { RecordedRequest } from '../../test/fixtures/fake-github-server';

/**
 * - `list`: one page of the runner listing (`GET .../actions/runners`, no `name` filter)
 * - `lookup`: the listing filtered by one runner name (termination finds the instance's runner)
 * - `register`: a JIT configuration or a registration token
 * - `delete`: a runner removed
 * - `token`: an App installation token minted
 * - `other`: anything else (e.g. the installation lookup when the secret has no installation id)
 */
export const REQUEST_KINDS = ['list', 'lookup', 'register', 'delete', 'token', 'other'] as const;
export type RequestKind = typeof REQUEST_KINDS[number];

export function classifyRequest(request: Pick<RecordedRequest, 'method' | 'path' | 'query'>): RequestKind {
  const { method, path } = request;
  if (method === 'POST' && /^\/app\/installations\/\d+\/access_tokens$/.test(path)) {
    return 'token';
  }
  if (method === 'GET' && /\/actions\/runners$/.test(path)) {
    return request.query.has('name') ? 'lookup' : 'list';
  }
  if (method === 'POST' && /\/actions\/runners\/(generate-jitconfig|registration-token)$/.test(path)) {
    return 'register';
  }
  if (method === 'DELETE' && /\/actions\/runners\/\d+$/.test(path)) {
    return 'delete';
  }
  return 'other';
}

/** A tally as plain data (what a scenario's process sends back). */
export interface TallySnapshot {
  readonly byKind: Record<RequestKind, number>;
  readonly failed: number;
  readonly total: number;
}

/** Requests counted per kind. */
export class RequestTally {
  readonly byKind: Record<RequestKind, number> = { list: 0, lookup: 0, register: 0, delete: 0, token: 0, other: 0 };
  /** Answers other than 2xx. */
  failed = 0;

  add(requests: ReadonlyArray<RecordedRequest>): void {
    for (const request of requests) {
      this.byKind[classifyRequest(request)]++;
      if (request.status === undefined || request.status >= 300) {
        this.failed++;
      }
    }
  }

  get total(): number {
    return REQUEST_KINDS.reduce((n, kind) => n + this.byKind[kind], 0);
  }

  snapshot(): TallySnapshot {
    return { byKind: { ...this.byKind }, failed: this.failed, total: this.total };
  }
}
