/** Jest runs TypeScript tests that drive the compiled .wasm modules through the host emulator. */
module.exports = {
  testEnvironment: "node",
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json" }] },
  testMatch: ["<rootDir>/{api,filters,codecs,control-plane,bench,tools}/**/*.test.ts"],
  // The configuration readers generated from api/proto, before any test compiles or imports them.
  globalSetup: "<rootDir>/tools/jest_global_setup.js",
  testPathIgnorePatterns: ["/node_modules/", "/build/", "/dist/"],
};
