import { Duration, Token } from 'aws-cdk-lib';
import { Mistakes } from '../validation';

/**
 * `value` if it is a whole number in min..max (or a token); otherwise records a mistake naming the prop,
 * its value and the fix, and returns `fallback`.
 */
export function wholeInRange(mistakes: Mistakes, prop: string, value: number, min: number, max: number, fix: string, fallback: number): number {
  if (Token.isUnresolved(value)) {
    return value;
  }
  return mistakes.valueOr(value, Number.isInteger(value) && value >= min && value <= max,
    () => `${prop} (${value}) must be a whole number from ${min} to ${max}: ${fix}`, fallback);
}

/**
 * `value` if the duration is within the bounds (or a token); otherwise records a mistake naming the prop,
 * its value and the fix, and returns `fallback`.
 */
export function durationInRange(
  mistakes: Mistakes, prop: string, value: Duration, minSeconds: number, maxSeconds: number, fix: string, fallback: Duration,
): Duration {
  if (value.isUnresolved()) {
    return value;
  }
  const seconds = value.toSeconds({ integral: false });
  return mistakes.valueOr(value, seconds >= minSeconds && seconds <= maxSeconds,
    () => `${prop} (${value.toHumanString()}) is out of range: ${fix}`, fallback);
}
