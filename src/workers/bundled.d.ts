/** The Cedar engine, compiled: Wrangler hands a `.wasm` import over as a WebAssembly.Module. */
export declare const cedarWasm: WebAssembly.Module;
/** The pages' static files as text, by the name they are served under. */
export declare const assetTexts: Readonly<Record<string, string>>;
