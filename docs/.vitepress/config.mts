import { defineConfig } from 'vitepress';

// The documentation site. Built by `npx projen docs` (part of `npm test`), checked in headless Chromium
// by scripts/check-site.mjs, which serves it at the root of 127.0.0.1.
//
// Published on GitHub Pages at https://cdk-github-runner-fleet.github.io/cdk-github-runner-fleet/ (the
// package's `homepage`): build it for that address with
// `DOCS_BASE=/cdk-github-runner-fleet/ npx projen docs`, so that its pages, assets and search load
// under /cdk-github-runner-fleet/.
const base = process.env.DOCS_BASE ?? '/';
if (!/^\/(.+\/)?$/.test(base)) throw new Error(`DOCS_BASE must start and end with a slash: ${base}`);

export default defineConfig({
  base,
  title: 'cdk-github-runner-fleet',
  description: 'Self-hosted GitHub Actions runners on EC2 Auto Scaling with warm pools, from one AWS CDK construct',
  cleanUrls: false,
  head: [['link', { rel: 'icon', type: 'image/svg+xml', href: `${base}favicon.svg` }]],
  lastUpdated: false,
  // API.md (jsii-docgen) contains `{...}` sequences that markdown-it-attrs would take for attributes.
  markdown: { attrs: { disable: true } },
  // Links to repository files outside docs/ (tests, API.md) are meant for GitHub's view of the repository.
  ignoreDeadLinks: [/^\.\.\/\.\.\//, /^\.\.\/\.\.\/API/],
  srcExclude: ['**/node_modules/**'],
  themeConfig: {
    nav: [
      { text: 'Getting started', link: '/getting-started' },
      { text: 'Guides', link: '/guide/fleet' },
      { text: 'API', link: '/api' },
      { text: 'Changelog', link: '/changelog' },
    ],
    sidebar: [
      {
        text: 'Start',
        items: [
          { text: 'Getting started', link: '/getting-started' },
          { text: 'Architecture', link: '/architecture' },
        ],
      },
      {
        text: 'Guides',
        items: [
          { text: 'The fleet and the life of an instance', link: '/guide/fleet' },
          { text: 'The control plane', link: '/guide/control-plane' },
          { text: 'Fast scaling: the webhook', link: '/guide/fast-scaling' },
          { text: 'Metrics, alarms and scaling', link: '/guide/scaling' },
          { text: 'Integration stacks', link: '/guide/integration-tests' },
          { text: 'The scaling simulator', link: '/guide/simulator' },
          { text: 'Benchmarks', link: '/guide/benchmarks' },
        ],
      },
      {
        text: 'Operate',
        items: [
          { text: 'Security model', link: '/security' },
          { text: 'Operations and troubleshooting', link: '/operations' },
          { text: 'Costs', link: '/cost' },
          { text: 'Compared with the alternatives', link: '/comparison' },
        ],
      },
      { text: 'Reference', items: [{ text: 'API', link: '/api' }, { text: 'Changelog', link: '/changelog' }] },
    ],
    search: { provider: 'local' },
  },
});
