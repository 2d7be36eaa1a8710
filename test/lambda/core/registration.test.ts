import * as fc from 'fast-check';
import {
  CredentialAnswer, decideLaunch, decideNoActiveAction, LaunchActionState, launchActionStateOf, LaunchDecision, LaunchFacts, leftoversOf,
  SecretPresence,
} from '../../../lambda/core/registration';

describe('launchActionStateOf', () => {
  test.each<[string | undefined, LaunchActionState]>([
    ['Pending', 'pending'],
    ['Pending:Wait', 'pending'],
    ['Pending:Proceed', 'continued'],
    ['InService', 'continued'],
    ['Standby', 'continued'],
    ['Detaching', 'continued'],
    ['Terminating', 'leaving'],
    ['Terminating:Wait', 'leaving'],
    ['Terminating:Proceed', 'leaving'],
    ['Terminated', 'leaving'],
    ['Warmed:Pending:Wait', 'leaving'],
    ['Warmed:Stopped', 'leaving'],
    [undefined, 'gone'],
    ['Quarantined', 'unknown'],
  ])('%s → %s', (state, expected) => {
    expect(launchActionStateOf(state)).toBe(expected);
  });
});

describe('decideLaunch: the decision table', () => {
  test.each<[LaunchFacts, LaunchDecision]>([
    [{ state: 'continued' }, 'duplicate'],
    [{ state: 'leaving' }, 'duplicate'],
    [{ state: 'gone' }, 'duplicate'],
    [{ state: 'pending' }, 'request-credential'],
    [{ state: 'unknown' }, 'request-credential'],
    [{ state: 'pending', github: 'created' }, 'write-secret-and-continue'],
    [{ state: 'pending', github: 'conflict' }, 'check-secret'],
    [{ state: 'pending', github: 'conflict', secret: 'present' }, 'continue-existing'],
    [{ state: 'pending', github: 'conflict', secret: 'absent' }, 'leave-to-in-flight'],
    [{ state: 'pending', github: 'conflict', secret: 'unknown' }, 'leave-to-in-flight'],
    [{ state: 'unknown', github: 'conflict', secret: 'absent' }, 'leave-to-in-flight'],
    [{ state: 'pending', github: 'ambiguous-failure' }, 'abandon-and-remove-by-name'],
    [{ state: 'pending', github: 'failure' }, 'abandon'],
  ])('%j → %s', (facts, expected) => {
    expect(decideLaunch(facts)).toBe(expected);
  });

  const facts = fc.record({
    state: fc.constantFrom<LaunchActionState>('pending', 'continued', 'leaving', 'gone', 'unknown'),
    github: fc.option(fc.constantFrom<CredentialAnswer>('created', 'conflict', 'ambiguous-failure', 'failure'), { nil: undefined }),
    secret: fc.option(fc.constantFrom<SecretPresence>('present', 'absent', 'unknown'), { nil: undefined }),
  });

  test('property: an action that is no longer pending is never acted on, whatever GitHub says', () => {
    fc.assert(fc.property(facts, (f) => {
      if (f.state === 'continued' || f.state === 'leaving' || f.state === 'gone') {
        expect(decideLaunch(f)).toBe('duplicate');
      }
    }));
  });

  test('property: a 409 never leads to an ABANDON or a deletion, and to CONTINUE only when the secret is known to exist', () => {
    fc.assert(fc.property(facts, (f) => {
      const decision = decideLaunch({ ...f, github: 'conflict' });
      expect(decision).not.toMatch(/abandon/);
      if (decision === 'continue-existing') {
        expect(f.secret).toBe('present');
      }
    }));
  });
});

describe('decideNoActiveAction', () => {
  test.each<[LaunchActionState, ReturnType<typeof decideNoActiveAction>]>([
    ['pending', { outcome: 'duplicate', remove: false }],
    ['continued', { outcome: 'duplicate', remove: false }],
    ['leaving', { outcome: 'expired', remove: true }],
    ['gone', { outcome: 'expired', remove: true }],
    ['unknown', { outcome: 'expired', remove: false }],
  ])('the instance %s afterwards → %j', (state, expected) => {
    expect(decideNoActiveAction(state)).toEqual(expected);
  });
});

describe('leftoversOf', () => {
  test.each<['jit' | 'token', CredentialAnswer | undefined, boolean]>([
    ['jit', 'created', true],
    ['jit', 'ambiguous-failure', true],
    ['jit', 'conflict', true],
    ['jit', 'failure', false],
    ['jit', undefined, false],
    ['token', 'created', false],
    ['token', 'ambiguous-failure', false],
  ])('%s after %s: runner removed by name %s, the secret always', (method, github, runner) => {
    expect(leftoversOf(method, github)).toEqual({ runner, secret: true });
  });
});
