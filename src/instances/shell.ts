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

/**
 * A tag for bash text inside TypeScript: `@{` stands for bash's `${` (which a template literal would
 * interpolate), and the text is taken raw (backslashes stay).
 */
export function bash(strings: TemplateStringsArray, ...values: string[]): string {
  let out = '';
  strings.raw.forEach((s, i) => {
    out += s.replace(/@\{/g, '${') + (i < values.length ? values[i] : '');
  });
  return out.replace(/^\n/, '');
}
