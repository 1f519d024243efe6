/**
 * `@vae/export/standalone`: the standalone decoder's generator, for tools that compile a graph
 * without exporting a run (verify's standalone runtimes compile the graph under test). Its own
 * entry, not src/standalone.ts itself, so the module's helpers (file naming, the runtime
 * template, the manifest entries) stay internal.
 */
export {
  compileGraph, generateModule, standaloneFiles, addStandalone, UnsupportedGraphError, STANDALONE_OPS,
  type Program, type CompiledGraph, type ModuleInfo, type StandaloneFile,
} from './standalone.js';
