// Fails the verification when the toolchain is not on Node.js 22 or later, the functions' runtime.
// `npm test` puts node_modules/.bin first on the PATH, where the devDependency `node` (22) lives.
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  console.error(`check-node: the toolchain runs on Node.js ${process.versions.node}; it needs 22 or later. `
    + 'Run the commands through npm (`npm test`, `npm run example`), which finds the devDependency node@22 in '
    + 'node_modules/.bin, or install Node.js 22.');
  process.exit(1);
}
console.log(`check-node: Node.js ${process.versions.node}`);
