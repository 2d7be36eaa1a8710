#!/usr/bin/env node
/**
 * Type-checks every TypeScript snippet (```ts blocks) of README.md and docs/**.md against the library's
 * source, the way jsii-rosetta treats them: a snippet is wrapped in rosetta/default.ts-fixture unless
 * its fence says `nofixture`. (jsii-rosetta itself only compiles the snippets of the jsii assembly, that
 * is README.md and doc comments; this covers the docs site as well.)
 *
 * Exits non-zero, naming file and line, when a snippet does not compile.
 */
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const outDir = path.join(root, '.tmp', 'doc-snippets');
const fixture = fs.readFileSync(path.join(root, 'rosetta', 'default.ts-fixture'), 'utf8');

function markdownFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name.startsWith('.') || entry.name === 'node_modules' ? [] : markdownFiles(full);
    return entry.name.endsWith('.md') ? [full] : [];
  });
}

function snippets(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const found = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(ts|typescript)\b(.*)$/.exec(lines[i]);
    if (!open) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !lines[end].startsWith('```')) end++;
    found.push({ line: start, code: lines.slice(start, end).join('\n'), fixture: !/\bnofixture\b/.test(open[2]) });
    i = end;
  }
  return found;
}

fs.rmSync(outDir, { recursive: true, force: true });
fs.mkdirSync(outDir, { recursive: true });
const origins = {};
let count = 0;
for (const file of [path.join(root, 'README.md'), ...markdownFiles(path.join(root, 'docs'))]) {
  for (const snippet of snippets(file)) {
    const name = `snippet${++count}.ts`;
    // Like rosetta, `declare` lines become module-level declarations.
    const lines = snippet.code.split('\n');
    const declared = lines.filter((l) => /^declare\s/.test(l)).join('\n');
    const code = lines.filter((l) => !/^declare\s/.test(l)).join('\n');
    const body = snippet.fixture
      ? fixture.replace('class Fixture', `${declared}\n\nclass Fixture`).replace('/// here', code)
      : `${declared}\n${code}`;
    // Wrapping each snippet in a module keeps their top-level names apart.
    fs.writeFileSync(path.join(outDir, name), `${body}\nexport {};\n`);
    origins[name] = `${path.relative(root, file)}:${snippet.line}`;
  }
}
fs.writeFileSync(path.join(outDir, 'tsconfig.json'), JSON.stringify({
  extends: '../../tsconfig.json',
  compilerOptions: {
    rootDir: '../..', noEmit: true, declaration: false, noUnusedLocals: false,
    module: 'preserve', moduleResolution: 'bundler',
    paths: { 'cdk-github-runner-fleet': ['../../src/index.ts'] },
  },
  include: ['./*.ts'],
}, null, 2));

try {
  execFileSync(path.join(root, 'node_modules', '.bin', 'tsc'), ['-p', path.join(outDir, 'tsconfig.json')], { stdio: 'pipe' });
} catch (error) {
  const output = String(error.stdout) + String(error.stderr);
  console.error(output.replace(/snippet\d+\.ts/g, (name) => `${name} (${origins[name]})`));
  console.error(`check-doc-snippets: a snippet of README.md or docs/ does not compile (${count} checked)`);
  process.exit(1);
}
console.log(`check-doc-snippets: ${count} snippets of README.md and docs/ compile`);
