// Preloaded into jsii's node process by synth/provider_bindings.py.
//
// The google provider's lib/index.js requires all ~1,470 resource modules
// (about 2.4 s) although jsii only ever reads the ones whose classes are
// used: it finds a class by walking the package's exports along the class's
// fully qualified name. Each `exports.x = require("./x")` line becomes a getter
// that requires the module on first use, so the same module objects are
// reached. Any other shape of index.js is loaded unchanged.
"use strict";

const fs = require("fs");
const Module = require("module");
const path = require("path");

const INDEX = path.join("node_modules", "@cdktf", "provider-google", "lib", "index.js");
const SUBMODULE = /^exports\.([A-Za-z_$][\w$]*) = require\("(\.\/[\w.-]+)"\);$/gm;
const compileJs = Module._extensions[".js"];

Module._extensions[".js"] = function (module, filename) {
  if (!filename.endsWith(path.sep + INDEX)) {
    return compileJs(module, filename);
  }
  const source = fs.readFileSync(filename, "utf8");
  const submodules = [...source.matchAll(SUBMODULE)];
  if (submodules.length === 0 || submodules.length !== source.split("require(").length - 1) {
    return compileJs(module, filename);
  }
  Object.defineProperty(module.exports, "__esModule", { value: true });
  for (const [, name, request] of submodules) {
    Object.defineProperty(module.exports, name, {
      configurable: true,
      enumerable: true,
      get() {
        const value = module.require(request);
        Object.defineProperty(module.exports, name, { value, writable: true, configurable: true, enumerable: true });
        return value;
      },
    });
  }
};
