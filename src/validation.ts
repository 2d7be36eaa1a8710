import { IConstruct } from 'constructs';

/**
 * The mistakes found in a construct's props: recorded, not thrown.
 *
 * Each check records its message (naming the prop, its value and the fix) and the caller goes on with a
 * safe fallback (the default, or the value clamped), so that construction continues and later checks
 * see sound values. Attached to a construct, the mistakes are reported when the app is synthesized:
 * aws-cdk-lib then lists every mistake of every construct at once, each prefixed with the construct's
 * path (`[Stack/Fleet] maxCapacity (0) must be ...`).
 *
 * Not exported from the library: its constructs use it.
 */
export class Mistakes {
  private readonly found: string[] = [];

  /** The messages recorded so far, in order. */
  public get messages(): readonly string[] {
    return [...this.found];
  }

  /** Records a mistake. */
  public add(message: string): void {
    this.found.push(message);
  }

  /**
   * Records `message` unless `condition` holds.
   *
   * @returns the condition: whether the value is sound
   */
  public check(condition: boolean, message: string | (() => string)): boolean {
    if (!condition) {
      this.add(typeof message === 'string' ? message : message());
    }
    return condition;
  }

  /**
   * `value` when `condition` holds; otherwise records `message` and returns `fallback`.
   */
  public valueOr<T>(value: T, condition: boolean, message: string | (() => string), fallback: T): T {
    return this.check(condition, message) ? value : fallback;
  }

  /**
   * Runs a validator that reports by throwing (shared with factories that have no construct) and records
   * its message instead.
   *
   * @returns whether the validator passed
   */
  public attempt(validator: () => void): boolean {
    try {
      validator();
      return true;
    } catch (e) {
      if (!(e instanceof Error)) {
        throw e;
      }
      this.add(e.message);
      return false;
    }
  }

  /**
   * Reports the mistakes when `construct` is validated at synth (`node.addValidation`, constructs 10).
   * Mistakes recorded after this call are reported too.
   */
  public attachTo(construct: IConstruct): void {
    construct.node.addValidation({ validate: () => this.messages.slice() });
  }
}

/**
 * For what construction cannot go on without (a missing `vpc`, props that are `undefined`): throws at
 * once, with the construct's path in front of the message, as the synth report would show it.
 */
export function fatalMistake(construct: IConstruct, message: string): never {
  throw new Error(`[${construct.node.path}] ${message}`);
}
