/** What the CPU supports and which kernel variant each operation runs (forced lower with EDGEINFER_ISA). */
import { callNative } from './errors';
import { native, type NativeSimdInfo } from './native';

export type SimdInfo = NativeSimdInfo;

export function simdInfo(): SimdInfo {
  return callNative(() => native.simdInfo());
}
