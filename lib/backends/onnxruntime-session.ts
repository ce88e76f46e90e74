/**
 * What the ONNX Runtime backend's main thread and its worker share: loading onnxruntime-node, turning the
 * validated options into its SessionOptions, creating a session with the execution-provider fallback rule,
 * and naming its failures with our error codes. No other lib/ module is imported: the worker loads only
 * this file and onnxruntime-node. Errors cross the thread as plain { code, message, detail } objects.
 */

/** One execution provider, normalised (see OnnxRuntimeOptions.executionProviders). */
export type ProviderSpec =
  | { name: 'cpu' }
  | { name: 'cuda'; deviceId?: number }
  | {
      name: 'tensorrt';
      deviceId?: number;
      /** trt_fp16_enable */
      fp16?: boolean;
      /** trt_int8_enable */
      int8?: boolean;
      /** trt_engine_cache_enable: keep built engines on disk, so a restart reuses them. */
      engineCache?: boolean;
      /** trt_engine_cache_path */
      engineCachePath?: string;
      /** trt_timing_cache_enable */
      timingCache?: boolean;
      /** trt_timing_cache_path */
      timingCachePath?: string;
      /** trt_max_workspace_size, bytes */
      maxWorkspaceSize?: number;
    };

/** Validated ONNX Runtime settings; plain data, so it can be posted to the worker. */
export interface OrtConfig {
  intraOpNumThreads: number;
  interOpNumThreads?: number;
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'layout' | 'all';
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  executionProviders: ProviderSpec[];
}

export interface PlainError {
  code: string;
  message: string;
  detail?: Record<string, unknown>;
}

export interface ProviderFallback {
  provider: string;
  reason: string;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
export type OrtModule = any;

/** require('onnxruntime-node'), or the error saying why it cannot be loaded. */
export function requireOnnxRuntime(): { ort: OrtModule; version: string } | { error: Error } {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ort = require('onnxruntime-node');
    let version = String(ort?.env?.versions?.node ?? ort?.env?.versions?.common ?? 'unknown');
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      version = String(require('onnxruntime-node/package.json').version ?? version);
    } catch {
      // a package without a readable package.json: keep what env says
    }
    return { ort, version };
  } catch (error) {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }
}

/**
 * onnxruntime-node reads only `name` and `deviceId` from a provider object (checked in 1.30's
 * session_options_helper.cc): the TensorRT keys below are passed under ONNX Runtime's own provider-option
 * names for a binding that forwards them, and reported as not applied by this one.
 */
export const providerKeysForwarded: ReadonlySet<string> = new Set(['name', 'deviceId']);

const tensorRtKeys: Record<string, string> = {
  fp16: 'trt_fp16_enable',
  int8: 'trt_int8_enable',
  engineCache: 'trt_engine_cache_enable',
  engineCachePath: 'trt_engine_cache_path',
  timingCache: 'trt_timing_cache_enable',
  timingCachePath: 'trt_timing_cache_path',
  maxWorkspaceSize: 'trt_max_workspace_size',
};

/** A provider as onnxruntime-node takes it (its option names, plus ONNX Runtime's for TensorRT). */
export function providerConfig(spec: ProviderSpec): string | Record<string, unknown> {
  if (spec.name === 'cpu') return 'cpu';
  const config: Record<string, unknown> = { name: spec.name };
  if (spec.deviceId !== undefined) config.deviceId = spec.deviceId;
  if (spec.name === 'tensorrt') {
    for (const [ours, theirs] of Object.entries(tensorRtKeys)) {
      const value = (spec as Record<string, unknown>)[ours];
      if (value !== undefined) config[theirs] = typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
    }
  }
  return config;
}

/** Provider options the installed binding will not apply, e.g. ['tensorrt.trt_fp16_enable']. */
export function providerKeysNotApplied(specs: ProviderSpec[]): string[] {
  const dropped: string[] = [];
  for (const spec of specs) {
    const config = providerConfig(spec);
    if (typeof config === 'string') continue;
    for (const key of Object.keys(config)) if (!providerKeysForwarded.has(key)) dropped.push(`${spec.name}.${key}`);
  }
  return dropped;
}

export function sessionOptions(config: OrtConfig, providers: ProviderSpec[]): Record<string, unknown> {
  const options: Record<string, unknown> = {
    intraOpNumThreads: config.intraOpNumThreads,
    executionProviders: providers.map(providerConfig),
  };
  if (config.interOpNumThreads !== undefined) options.interOpNumThreads = config.interOpNumThreads;
  if (config.graphOptimizationLevel !== undefined) options.graphOptimizationLevel = config.graphOptimizationLevel;
  if (config.logSeverityLevel !== undefined) options.logSeverityLevel = config.logSeverityLevel;
  return options;
}

const providerNames: Record<string, string> = { cuda: 'cuda', tensorrt: 'tensorrt', cpu: 'cpu' };

/** The execution provider an ONNX Runtime error is about, if it names one of `candidates`. */
export function failedProvider(message: string, candidates: string[]): string | undefined {
  const append = /AppendExecutionProvider_(\w+)/i.exec(message);
  if (append) {
    const name = providerNames[append[1].toLowerCase()];
    if (name && candidates.includes(name)) return name;
  }
  const quoted = /(?:is unsupported: '|\[)(\w+)(?:'|\] backend not found)/.exec(message);
  if (quoted && candidates.includes(quoted[1])) return quoted[1];
  const lower = message.toLowerCase();
  if (candidates.includes('tensorrt') && /tensorrt|nvinfer/.test(lower)) return 'tensorrt';
  if (candidates.includes('cuda') && /\bcuda|cudnn|cublas/.test(lower)) return 'cuda';
  return undefined;
}

/** ONNX Runtime's status name in a message ("[ONNXRuntimeError] : 10 : INVALID_GRAPH : ..."). */
function ortStatus(message: string): string | undefined {
  return /\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*(\w+)/.exec(message)?.[1];
}

/** Our code for an ONNX Runtime failure while creating a session ('load') or running it ('run'). */
export function ortFailure(error: unknown, phase: 'load' | 'run'): PlainError {
  const message = error instanceof Error ? error.message : String(error);
  const status = ortStatus(message);
  const detail: Record<string, unknown> = { backend: 'onnxruntime', ...(status ? { ortStatus: status } : {}) };
  let code = 'EDGEINFER_INTERNAL';
  if (phase === 'load') {
    if (status === 'NOT_IMPLEMENTED' || /Could not find an implementation/i.test(message)) code = 'EDGEINFER_UNSUPPORTED_OP';
    else if (status === 'EP_FAIL') code = 'EDGEINFER_BACKEND_UNAVAILABLE';
    else if (status === 'NO_SUCHFILE' || error instanceof TypeError || error instanceof RangeError) code = 'EDGEINFER_INVALID_ARGUMENT';
    else if (status !== undefined || /protobuf|Load model|model/i.test(message)) code = 'EDGEINFER_MODEL_INVALID';
  } else if (status === 'INVALID_ARGUMENT' || error instanceof TypeError) {
    code = /shape|dimension|dims/i.test(message) ? 'EDGEINFER_SHAPE_MISMATCH' : 'EDGEINFER_INVALID_ARGUMENT';
  } else if (/shape|dimension|broadcast/i.test(message)) {
    code = 'EDGEINFER_SHAPE_MISMATCH';
  }
  return { code, message: `ONNX Runtime: ${message}`, detail };
}

/**
 * Creates a session with the providers asked for. A provider this onnxruntime-node lacks (not in
 * listSupportedBackends(), or its library fails to load) is dropped when 'cpu' comes after it in the list
 * (a fallback, reported), and is EDGEINFER_BACKEND_UNAVAILABLE naming it otherwise.
 */
export async function createSession<S>(
  ort: OrtModule,
  config: OrtConfig,
  create: (options: Record<string, unknown>) => Promise<S>,
): Promise<{ session: S; providers: ProviderSpec[]; fallbacks: ProviderFallback[] } | { error: PlainError }> {
  let providers = config.executionProviders.slice();
  const fallbacks: ProviderFallback[] = [];
  const drop = (name: string, reason: string): PlainError | undefined => {
    const index = providers.findIndex((spec) => spec.name === name);
    if (index >= 0 && providers.slice(index + 1).some((spec) => spec.name === 'cpu')) {
      providers = providers.filter((_, i) => i !== index);
      fallbacks.push({ provider: name, reason });
      return undefined;
    }
    return {
      code: 'EDGEINFER_BACKEND_UNAVAILABLE',
      message: `execution provider '${name}' is not available in this onnxruntime-node: ${reason} (list 'cpu' after it to fall back to the CPU)`,
      detail: { backend: 'onnxruntime', provider: name },
    };
  };
  let built: string[] | undefined;
  try {
    const list = typeof ort.listSupportedBackends === 'function' ? (ort.listSupportedBackends() as { name: string }[]) : undefined;
    built = list?.map((entry) => entry.name);
  } catch {
    built = undefined;
  }
  for (const spec of config.executionProviders) {
    if (spec.name !== 'cpu' && built !== undefined && !built.includes(spec.name)) {
      const failure = drop(spec.name, `this build has ${built.join(', ')}`);
      if (failure) return { error: failure };
    }
  }
  for (;;) {
    try {
      const session = await create(sessionOptions(config, providers));
      return { session, providers, fallbacks };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const name = failedProvider(message, providers.filter((spec) => spec.name !== 'cpu').map((spec) => spec.name));
      if (name === undefined) return { error: ortFailure(error, 'load') };
      const failure = drop(name, message.split('\n')[0]);
      if (failure) return { error: failure };
    }
  }
}

/** A model output as onnxruntime-node returns it, as a plain { type, data, dims }. */
export function plainTensor(value: { type: string; data?: unknown; cpuData?: unknown; dims: readonly number[] }): { type: string; data: ArrayBufferView; dims: number[] } {
  return { type: value.type, data: (value.cpuData ?? value.data) as ArrayBufferView, dims: Array.from(value.dims) };
}
