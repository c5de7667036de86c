"use strict";
// FROZEN: named by the state of every gateway resource created with shim v1.
module.exports = require("./make")("gateway");
