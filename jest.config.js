/** Jest runs TypeScript tests that drive the compiled .wasm modules through the host emulator. */
module.exports = {
  testEnvironment: "node",
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json" }] },
  testMatch: ["<rootDir>/{api,filters,codecs,control-plane,bench}/**/*.test.ts"],
  testPathIgnorePatterns: ["/node_modules/", "/build/", "/dist/"],
};
