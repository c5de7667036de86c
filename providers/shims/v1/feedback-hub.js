"use strict";
// FROZEN: named by the state of every feedbackHub resource created with shim v1.
module.exports = require("./make")("feedbackHub");
