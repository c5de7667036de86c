"use strict";
// FROZEN: named by the state of every forgeLogin resource created with shim v1.
module.exports = require("./make")("forgeLogin");
