/**
 * The op registry with every declaration loaded: import from here (not from registry.ts) so that no
 * lookup can run before the family files have declared their ops.
 */
import './elementwise';
import './tensor';
import './nn';
import './normalization';
import './indexing';
import './quantized';
import './qoperator';
import './fused';
import './control';
import './rnn';

export { allOps, declaredStepOps, findOp, nativeOpKeys, type FoldRule, type LayoutRule, type LowerContext, type LowerRule, type OpDeclaration } from './registry';
