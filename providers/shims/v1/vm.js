"use strict";
// FROZEN: named by the state of every vm resource created with shim v1.
module.exports = require("./make")("vm");
