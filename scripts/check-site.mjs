#!/usr/bin/env node
/**
 * Checks the built documentation site (docs/.vitepress/dist) in headless Chromium (the Debian package,
 * driven by playwright-core), served on 127.0.0.1:
 * - every page reachable from the home page renders, with no console error and no failed request (but
 *   those a navigation cancels);
 * - no internal link points to a page that does not exist;
 * - code blocks have copy buttons;
 * - the local search finds a page;
 * - screenshots of the home page and of one guide are not blank (written to .tmp/site-screenshots/).
 * Exits non-zero, saying what failed.
 */
import { createServer } from 'node:http';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import { chromium } from 'playwright-core';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'docs/.vitepress/dist');
const shots = join(root, '.tmp/site-screenshots');
const browserPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.json': 'application/json', '.woff2': 'font/woff2', '.png': 'image/png' };

if (!existsSync(join(dist, 'index.html'))) fail('docs/.vitepress/dist/index.html is missing: run `npx projen docs` first');
if (!browserPath) fail('Chromium is missing: apt-get install -y chromium (scripts/ensure-tools.sh does it)');

const server = createServer((req, res) => {
  const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  let file = normalize(join(dist, path));
  if (!file.startsWith(dist)) { res.writeHead(403).end(); return; }
  if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
  if (!existsSync(file) && existsSync(`${file}.html`)) file = `${file}.html`;
  if (!existsSync(file)) { res.writeHead(404).end('not found'); return; }
  res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}`;

const problems = [];
const browser = await chromium.launch({ executablePath: browserPath, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  let current = '';
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`${current}: console error: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`${current}: page error: ${e.message}`));
  // A request the next navigation cancels (net::ERR_ABORTED: the theme prefetches the chunks of linked
  // pages when the browser is idle, which may be after 'networkidle') is no failure of the site; a
  // missing file answers 404 (below), and every page and its chunks are loaded in turn anyway.
  page.on('requestfailed', (r) => {
    if (r.failure()?.errorText !== 'net::ERR_ABORTED') problems.push(`${current}: request failed (${r.failure()?.errorText}): ${r.url()}`);
  });
  page.on('response', (r) => { if (r.url().startsWith(base) && r.status() >= 400) problems.push(`${current}: ${r.status()} for ${r.url()}`); });

  // Crawl every internal page reachable from the home page (links in the content, nav and sidebar).
  const seen = new Set();
  const queue = ['/'];
  let codeBlocks = 0;
  let copyButtons = 0;
  while (queue.length > 0) {
    const path = queue.shift();
    if (seen.has(path)) continue;
    seen.add(path);
    current = path;
    const response = await page.goto(base + path, { waitUntil: 'networkidle' });
    if (!response || response.status() !== 200) { problems.push(`${path}: HTTP ${response?.status()}`); continue; }
    if ((await page.locator('h1').count()) === 0 && path !== '/') problems.push(`${path}: no heading rendered`);
    codeBlocks += await page.locator('div[class*="language-"]').count();
    copyButtons += await page.locator('div[class*="language-"] button.copy').count();
    const links = await page.$$eval('a[href]', (as) => as.map((a) => a.getAttribute('href')));
    for (const href of links) {
      if (!href || /^(https?:|mailto:|#)/.test(href)) continue;
      const target = new URL(href, base + path);
      if (target.origin !== base) continue;
      const pathname = target.pathname;
      if (/\.(svg|png|jpg)$/.test(pathname)) continue;
      if (!seen.has(pathname)) queue.push(pathname);
    }
  }
  if (seen.size < 8) problems.push(`only ${seen.size} pages reachable from the home page`);
  if (codeBlocks === 0 || copyButtons < codeBlocks) problems.push(`${copyButtons} copy buttons for ${codeBlocks} code blocks`);

  // Local search: open it, type, expect a result that leads to the fast-scaling guide.
  current = 'search';
  await page.goto(base + '/', { waitUntil: 'networkidle' });
  await page.locator('.VPNavBarSearch button, button.DocSearch').first().click();
  await page.locator('.VPLocalSearchBox input').first().fill('warm pool');
  await page.locator('.VPLocalSearchBox .result').first().waitFor({ timeout: 10_000 }).catch(() => undefined);
  const results = await page.locator('.VPLocalSearchBox .result').count();
  if (results === 0) problems.push('the local search found nothing for "warm pool"');

  // Screenshots: not blank (a blank page compresses to almost nothing and has one colour).
  mkdirSync(shots, { recursive: true });
  for (const [name, path] of [['home', '/'], ['guide', '/guide/fast-scaling.html']]) {
    current = path;
    await page.goto(base + path, { waitUntil: 'networkidle' });
    const png = await page.screenshot({ path: join(shots, `${name}.png`) });
    const colours = await page.evaluate(() => new Set([...document.querySelectorAll('body *')].map((e) => getComputedStyle(e).color)).size);
    if (png.length < 20_000 || colours < 3) problems.push(`${path}: the screenshot looks blank (${png.length} bytes, ${colours} text colours)`);
  }
  console.log(`check-site: ${seen.size} pages, ${codeBlocks} code blocks with copy buttons, search results ${results}, screenshots in .tmp/site-screenshots/`);
} finally {
  await browser.close();
  server.close();
}
if (problems.length > 0) {
  console.error(problems.join('\n'));
  fail(`${problems.length} problem(s)`);
}

function fail(message) {
  console.error(`check-site: ${message}`);
  process.exit(1);
}
