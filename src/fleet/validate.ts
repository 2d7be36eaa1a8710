import { Duration, Token } from 'aws-cdk-lib';

/** Throws, naming the prop, its value and the fix, unless the value is a whole number in min..max (or a token). */
export function wholeInRange(prop: string, value: number, min: number, max: number, fix: string): void {
  if (Token.isUnresolved(value)) {
    return;
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${prop} (${value}) must be a whole number from ${min} to ${max}: ${fix}`);
  }
}

/** Throws, naming the prop, its value and the fix, unless the duration is within the bounds (or a token). */
export function durationInRange(prop: string, value: Duration, minSeconds: number, maxSeconds: number, fix: string): void {
  if (value.isUnresolved()) {
    return;
  }
  const seconds = value.toSeconds();
  if (seconds < minSeconds || seconds > maxSeconds) {
    throw new Error(`${prop} (${value.toHumanString()}) is out of range: ${fix}`);
  }
}

/** Spot settings after defaults. */
