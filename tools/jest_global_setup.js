// Jest's global setup: the configuration readers generated from api/proto must exist before any
// test compiles the filter or imports the control plane's schema.
module.exports = () => {
  require("./generate-config").generate();
};
