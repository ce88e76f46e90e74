/** Model quantization: calibrate a float ONNX model on real data and write a QDQ INT8 / mixed-precision model. */
export {
  calibrateModel,
  calibrationTensors,
  CalibrationTable,
  type CalibrateModelOptions,
  type CalibratedTensor,
  type CalibrationData,
  type CalibrationFeeds,
  type CalibrationProgress,
} from './calibrate-model';
export { quantizeModel, type NodeReport, type QuantizationReport, type QuantizeModelOptions, type QuantizeModelResult } from './quantize-model';
export { LAYER_PRECISIONS, type LayerPrecision, type MixedPrecisionPreset, type PrecisionRule } from './precision-rules';
export { QUANTIZABLE_OP_TYPES, type QuantizableOpType } from './quantizable-nodes';
export type { ValidationResult } from './validate-model';
export {
  analyzeSensitivity,
  formatSensitivityTable,
  outputCosineDistance,
  type LayerSensitivity,
  type SensitivityMetric,
  type SensitivityOptions,
  type SensitivityProgress,
  type SensitivityQuantizeOptions,
  type SensitivityReport,
} from './sensitivity';
export { autoMixedPrecision, type AutoMixedPrecisionOptions, type AutoMixedPrecisionResult, type FallbackPrecision, type MixedPrecisionStep } from './auto-mixed-precision';
