export { EdgeInferError, type EdgeInferErrorCode } from './errors';
export { Arena, type ArenaOptions, type ArenaStats, type ArenaDataType, type ArenaView } from './arena';
export {
  packWeights,
  gemmS8,
  gemmS8Sync,
  PackedWeights,
  type PackWeightsOptions,
  type GemmOptions,
  type GemmInt32Options,
  type GemmFloat32Options,
  type GemmActivation,
  type WeightLayout,
} from './gemm';
export {
  quantize,
  quantizeSync,
  dequantize,
  dequantizeSync,
  type QuantizeOptions,
  type DequantizeOptions,
  type QuantizationParams,
  type QuantizedType,
} from './quantize';
export {
  Calibrator,
  type CalibrationMethod,
  type CalibrationOptions,
  type CalibrationResult,
  type CalibratorOptions,
  type CalibratorStats,
  type CalibratorHistogram,
} from './calibrator';
export { Quantizer, type QuantizerOptions, type QuantizerParams, type QuantizedWeights, type CalibrationSamples } from './quantizer';
export {
  calibrateModel,
  quantizeModel,
  analyzeSensitivity,
  autoMixedPrecision,
  formatSensitivityTable,
  outputCosineDistance,
  CalibrationTable,
  QUANTIZABLE_OP_TYPES,
  type AutoMixedPrecisionOptions,
  type AutoMixedPrecisionResult,
  type FallbackPrecision,
  type LayerSensitivity,
  type MixedPrecisionStep,
  type SensitivityMetric,
  type SensitivityOptions,
  type SensitivityProgress,
  type SensitivityQuantizeOptions,
  type SensitivityReport,
  type CalibrateModelOptions,
  type CalibratedTensor,
  type CalibrationData,
  type CalibrationFeeds,
  type CalibrationProgress,
  type LayerPrecision,
  type MixedPrecisionPreset,
  type NodeReport,
  type PrecisionRule,
  type QuantizableOpType,
  type QuantizationReport,
  type QuantizeModelOptions,
  type QuantizeModelResult,
  type ValidationResult,
} from './quantization';
export {
  layerNorm,
  layerNormSync,
  layerNormGelu,
  layerNormGeluSync,
  gelu,
  geluSync,
  type LayerNormOptions,
  type LayerNormGeluOptions,
  type GeluOptions,
  type GeluApproximation,
} from './layernorm';
export { simdInfo, type SimdInfo } from './simd';
export {
  Engine,
  resultInfo,
  type EngineOptions,
  type EngineInfo,
  type EngineStats,
  type EngineEvents,
  type Backend,
  type BackendName,
  type ResultInfo,
  type RunOptions,
  type RunPriority,
  type SwapOptions,
  type SwapResult,
} from './engine';
export type { OnnxRuntimeOptions, OnnxRuntimeProvider } from './backends/onnxruntime-backend';
export type { Precision, BackendStats, StepProfile } from './backends/backend';
export type { Tensor, TensorInfo, TensorType } from './tensor';
export { WakeWordPipeline, readWav16, type ModelRunner, type WakeWordModels, type ChunkResult } from './wakeword/pipeline';
export { wakeWordCalibrationFeeds, wavFiles, type WakeWordCalibrationOptions } from './wakeword/calibration';
export { CommandStage, type CommandEvent, type CommandModel, type CommandPushOptions, type CommandScore, type CommandScoreBy, type CommandStageOptions } from './wakeword/command-stage';
export { EnergyVoiceActivity, type VoiceActivityOptions, type VoiceActivityResult } from './wakeword/voice-activity';
export {
  BatchScheduler,
  type BatchSchedulerOptions,
  type BatchSchedulerStats,
  type BatchTarget,
  type Priority,
  type SequencePadding,
  type SubmitOptions,
} from './batch-scheduler';
export type { LatencySummary } from './latency-histogram';
export {
  ModelPool,
  poolResultInfo,
  type ModelPoolOptions,
  type ModelPoolStats,
  type PoolEngine,
  type PoolInferOptions,
  type PoolResultInfo,
  type PoolSwitchEvent,
  type PoolVariantSpec,
  type PoolVariantStats,
} from './model-pool';
export {
  DegradationPolicy,
  type DegradationCondition,
  type DegradationDecision,
  type DegradationEvent,
  type DegradationPolicyOptions,
  type DegradationReadings,
  type DegradationRule,
  type ReadingSource,
} from './degradation';
export {
  createServer,
  protoPath,
  type InferenceServer,
  type ServerAddress,
  type ServerOptions,
  type ShutdownOptions,
  type WakeWordServeOptions,
} from './serve';
export { distill, makeVoiceFeatures, checkPython, evaluateModel, toCommandStageModel, streamCommandClips, validateConfig, readConfig, type DistillConfig, type DistillOptions, type DistillDevice, type DistillProgress, type DistillReport, type VoiceFeatureSettings, type EvaluationSettings } from './distill';
