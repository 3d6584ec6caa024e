/**
 * The component rules of docs/conventions.md, checked by `npm run lint:deps` (run before every
 * `npm test`, so CI fails on a boundary crossing). A component is a top-level folder or a
 * `host/<part>/` folder; its index.ts is its face. Tests, benchmarks and scripts may import any
 * file; the rules bind the shipped code.
 */
const COMPONENT = '^(core|wire|firmware-sim|reader-bridge|host/[^/]+)/';
const SHIPPED = '^(core|wire|firmware-sim|reader-bridge|host)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-is-the-scheme',
      comment: 'core imports nothing outside core but its cryptography libraries (no I/O, no other component).',
      severity: 'error',
      from: { path: '^core/', pathNot: '^core/backends/' },
      to: { pathNot: ['^core/', '^node_modules/(@noble/curves|@noble/hashes|bigint-crypto-utils)/'] },
    },
    {
      name: 'core-backends-only-crypto',
      comment: "core/backends/ (opt-in faster groups) adds libsodium and node:crypto to core's libraries, nothing else.",
      severity: 'error',
      from: { path: '^core/backends/' },
      to: { pathNot: ['^core/', '^node_modules/(@noble/curves|@noble/hashes|bigint-crypto-utils|libsodium-wrappers-sumo)/', '^crypto$'] },
    },
    {
      name: 'wire-only-core',
      comment: "wire (the card's byte formats) depends on core alone.",
      severity: 'error',
      from: { path: '^wire/' },
      to: { pathNot: ['^wire/', '^core/'] },
    },
    {
      name: 'card-knows-no-reader-or-host',
      comment: 'firmware-sim is the card: it may use core and wire, never the bridge or a host.',
      severity: 'error',
      from: { path: '^firmware-sim/' },
      to: { path: '^(reader-bridge|host)/' },
    },
    {
      name: 'bridge-knows-no-host',
      comment: 'reader-bridge carries APDUs for hosts; it never depends on one.',
      severity: 'error',
      from: { path: '^reader-bridge/' },
      to: { path: '^host/' },
    },
    {
      name: 'only-the-virtual-transport-loads-the-card',
      comment:
        "Terminals, the bank and the bridge reach cards through a reader. Only reader-bridge's virtual " +
        "transport, the commands that host a simulated card (host/cli's `ecash card`, host/demo) and the card " +
        'simulator (host/sim) load firmware-sim.',
      severity: 'error',
      from: { path: '^(reader-bridge|host)/', pathNot: ['^reader-bridge/transports/virtual\\.ts$', '^host/(cli|demo|sim)/'] },
      to: { path: '^firmware-sim/' },
    },
    {
      name: 'bank-touches-no-card-or-terminal',
      comment: 'The bank serves HTTP and keeps the books; cards, readers and terminals are on the other side of its API.',
      severity: 'error',
      from: { path: '^host/bank/' },
      to: { path: '^(wire|firmware-sim|reader-bridge|host/(pos|load|demo|cli))/' },
    },
    {
      name: 'terminals-use-the-bank-client',
      comment: 'Terminals reach the bank through host/bank-client over HTTP, never the bank itself.',
      severity: 'error',
      from: { path: '^host/(pos|load)/' },
      to: { path: '^host/bank/' },
    },
    {
      name: 'bank-client-is-light',
      comment: 'host/bank-client depends on core and undici only, so a terminal never loads fastify, pg or better-sqlite3 through it.',
      severity: 'error',
      from: { path: '^host/bank-client/' },
      to: { pathNot: ['^host/bank-client/', '^core/', '^node_modules/undici/'], dependencyTypesNot: ['core'] },
    },
    {
      name: 'faces-only',
      comment:
        'Another component is imported only through its index.ts, its public face (core has a second one, ' +
        'core/backends/index.ts, kept apart so that core/index.ts loads no Node module).',
      severity: 'error',
      from: { path: COMPONENT },
      to: {
        path: COMPONENT,
        pathNot: ['^$1/', `${COMPONENT}index\\.ts$`, '^core/backends/index\\.ts$', '^firmware-sim/testing/malicious\\.ts$'],
      },
    },
    {
      name: 'tampered-cards-only-in-the-simulator',
      comment: "firmware-sim's testing face (the double-spending card) is for tests and the card simulator's special cards only.",
      severity: 'error',
      from: { path: SHIPPED, pathNot: ['^host/sim/', '^firmware-sim/'] },
      to: { path: '^firmware-sim/testing/' },
    },
    {
      name: 'shipped-code-loads-no-tests',
      comment: 'What ships never imports tests, benchmarks or scripts.',
      severity: 'error',
      from: { path: SHIPPED },
      to: { path: '^(test|bench|scripts)/' },
    },
    {
      name: 'shipped-code-uses-no-dev-dependency',
      comment: 'A devDependency is not installed with the package; shipped code must not need one.',
      severity: 'error',
      from: { path: SHIPPED },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-circular',
      comment: 'No module depends on itself through others.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'resolvable',
      comment: 'Every import resolves to a file or an installed package (the optional native packages may be absent).',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true, pathNot: '^(pcsclite|node-hid|koffi)$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
};
