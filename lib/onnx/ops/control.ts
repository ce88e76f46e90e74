/** Control flow: If, whose branches the lowering turns into subplans (lower.ts), run by the C++ If step. */
import { ifRule } from '../shape-ops-nn';
import { declareOps } from './registry';

declareOps({ domain: '', op: 'If', shape: ifRule, native: 'structural', steps: ['If'] });
