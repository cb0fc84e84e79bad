#!/usr/bin/env node
'use strict';
// ./build.sh new-codec NAME: a new codec that starts from green. Copies the tinyrpc example
// (codecs/tinyrpc, its peers in examples/tinyrpc, its rig in test/tinyrpc, its benchmark module)
// under NAME, so the new codec, its unit tests, its rig and its benchmark all pass as generated
// against the built-in example peers; the author then turns them into their protocol's.
const fs = require('fs');
const path = require('path');

const REPO = path.resolve(__dirname, '..');
const EXAMPLE = 'tinyrpc';
const USAGE = `Usage: ./build.sh new-codec NAME

Creates, for protocol NAME (lower case, [a-z][a-z0-9_]*: the \`protocol\` metric label and the
name of dist/wasm/NAME.wasm), a codec that works from the start against tiny example peers:

  codecs/NAME/main.ts              entry point: the framework's ABI and your codec
  codecs/NAME/NAME_codec.ts        the codec class, with a typed per-connection state
  codecs/NAME/NAME.test.ts         unit tests against the compiled .wasm (testChunkings, testNeverTraps)
  codecs/NAME/fixtures/            sessions recorded from the peers, and a README saying how
  test/NAME/test.sh                the rig: a real Envoy between the peers, metrics checked
  test/NAME/capture-fixtures.sh    records codecs/NAME/fixtures/ again from the peers
  test/NAME/server.js client.js wire.js   the example peers (replace them with your real ones)
  test/NAME/NAME.yaml              the model the rig's Envoy configuration is generated from
  test/NAME/packages               Debian/PyPI packages the rig needs (none yet)
  bench/protocols/NAME.ts          so that \`npm run bench -- --protocol NAME\` benchmarks it

Then: ./build.sh build NAME && npx jest codecs/NAME && bash test/NAME/test.sh
(docs/codec-sdk.md walks through turning the example protocol into yours.)`;

/** [from, to] for each file, relative to the repository; NAME-dependent targets. */
function plan(name) {
  const files = [
    ['codecs/tinyrpc/main.ts', `codecs/${name}/main.ts`],
    ['codecs/tinyrpc/tinyrpc_codec.ts', `codecs/${name}/${name}_codec.ts`],
    ['codecs/tinyrpc/tinyrpc.test.ts', `codecs/${name}/${name}.test.ts`],
    ['codecs/tinyrpc/fixtures/README.md', `codecs/${name}/fixtures/README.md`],
    ['examples/tinyrpc/wire.js', `test/${name}/wire.js`],
    ['examples/tinyrpc/server.js', `test/${name}/server.js`],
    ['examples/tinyrpc/client.js', `test/${name}/client.js`],
    ['examples/tinyrpc/tinyrpc.yaml', `test/${name}/${name}.yaml`],
    ['test/tinyrpc/test.sh', `test/${name}/test.sh`],
    ['test/tinyrpc/capture-fixtures.sh', `test/${name}/capture-fixtures.sh`],
    ['test/tinyrpc/packages', `test/${name}/packages`],
    ['bench/protocols/tinyrpc.ts', `bench/protocols/${name}.ts`],
  ];
  // The recorded sessions: the same bytes, since the protocol is the example's until you change it.
  for (const f of fs.readdirSync(path.join(REPO, 'codecs/tinyrpc/fixtures')).filter((f) => f.endsWith('.bin'))) {
    files.push([`codecs/tinyrpc/fixtures/${f}`, `codecs/${name}/fixtures/${f}`]);
  }
  return files;
}

/** The example's names in a text, turned into NAME's. The peers move from examples/ to the rig's folder. */
function renamed(text, name) {
  const pascal = name.split('_').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
  return text
    .replaceAll(`examples/${EXAMPLE}/${EXAMPLE}.yaml`, `test/${name}/${name}.yaml`)
    .replaceAll(`examples/${EXAMPLE}`, `test/${name}`)
    .replaceAll('TinyRpc', pascal)
    .replaceAll('TINYRPC', name.toUpperCase())
    .replaceAll(EXAMPLE, name);
}

function main(argv) {
  if (argv.includes('--help') || argv.includes('-h')) { console.log(USAGE); return 0; }
  if (argv.length !== 1) { console.error(USAGE); return 2; }
  const name = argv[0];
  if (!/^[a-z][a-z0-9_]*$/.test(name)) {
    console.error(`new-codec: "${name}" is not a codec name: lower case letters, digits and _, starting with a letter`);
    return 2;
  }
  if (name === EXAMPLE) { console.error(`new-codec: ${EXAMPLE} is the example every new codec is made from`); return 2; }
  const files = plan(name);
  // Whole folders too: test/lib is not a rig, and a codec's folder is its own.
  const taken = [`codecs/${name}`, `test/${name}`, ...files.map(([, to]) => to)].filter((to) => fs.existsSync(path.join(REPO, to)));
  if (taken.length) { console.error(`new-codec: these exist already, nothing written:\n  ${taken.join('\n  ')}`); return 1; }
  for (const [from, to] of files) {
    const source = path.join(REPO, from);
    const target = path.join(REPO, to);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    if (from.endsWith('.bin')) fs.copyFileSync(source, target);
    else fs.writeFileSync(target, renamed(fs.readFileSync(source, 'utf8'), name), { mode: fs.statSync(source).mode });
    console.log(`  created ${to}`);
  }
  console.log(`
codecs/${name} speaks the example protocol (examples/${EXAMPLE}/README.md) until you change it. Next:
  ./build.sh build ${name}                 # dist/wasm/${name}.wasm
  npx jest codecs/${name}                  # unit tests
  bash test/${name}/test.sh                # the rig: a real Envoy between the peers
  npm run bench -- --protocol ${name} --smoke
Then replace test/${name}/server.js and client.js with your real peers, record fixtures with
test/${name}/capture-fixtures.sh, and rewrite codecs/${name}/${name}_codec.ts (docs/codec-sdk.md).`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
