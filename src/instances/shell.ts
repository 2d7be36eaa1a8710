/**
 * Shell helpers for rendering scripts. Pure functions; unit-tested with properties.
 */

/** Quotes a string for bash so that it is one word with exactly this value. */
export function shellQuote(value: string): string {
  if (value === '') {
    return "''";
  }
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) {
    return value;
  }
  return `'${value.replace(/'/g, "'\\''")}'`;
}
