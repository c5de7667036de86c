"use strict";
// FROZEN: named by the state of every forgeAccount resource created with shim v1.
module.exports = require("./make")("forgeAccount");
