/**
 * What a model must pass before it may replace the one serving (Engine.swap): its bytes match the sha256
 * the publisher announced, carry a valid Ed25519 signature by the publisher's key (node:crypto), and its
 * inputs and outputs are ones the callers of the old model can keep using.
 */
import { createHash, createPublicKey, KeyObject, verify } from 'node:crypto';

import { EdgeInferError } from './errors';
import type { TensorInfo } from './tensor';
import { invalid } from './validate';

export interface BytesVerification {
  /** Expected sha256 of the model bytes, 64 hex digits. */
  sha256?: string;
  /** Ed25519 signature of the model bytes: raw bytes, or base64. Needs publicKey. */
  signature?: Uint8Array | string;
  /** The publisher's Ed25519 public key: a KeyObject, or PEM (a string or its bytes). */
  publicKey?: KeyObject | string | Uint8Array;
}

export interface CheckedVerification {
  sha256?: string;
  signature?: Buffer;
  publicKey?: KeyObject;
}

/** Validates the verification options (malformed ones are the caller's error, EDGEINFER_INVALID_ARGUMENT). */
export function checkVerification(options: BytesVerification): CheckedVerification {
  const checked: CheckedVerification = {};
  if (options.sha256 !== undefined) {
    if (typeof options.sha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(options.sha256)) throw invalid('sha256 must be 64 hex digits', { argument: 'sha256' });
    checked.sha256 = options.sha256.toLowerCase();
  }
  if ((options.signature === undefined) !== (options.publicKey === undefined)) {
    throw invalid('signature and publicKey go together: the signature is checked against the key', { argument: options.signature === undefined ? 'signature' : 'publicKey' });
  }
  if (options.signature !== undefined) {
    const signature = options.signature;
    if (typeof signature === 'string') {
      if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(signature)) throw invalid('signature must be bytes or base64', { argument: 'signature' });
      checked.signature = Buffer.from(signature, 'base64');
    } else if (signature instanceof Uint8Array) {
      checked.signature = Buffer.from(signature);
    } else {
      throw invalid('signature must be a Uint8Array or a base64 string', { argument: 'signature' });
    }
    let key: KeyObject;
    try {
      const given = options.publicKey!;
      if (given instanceof KeyObject) key = given.type === 'private' ? createPublicKey(given) : given;
      else if (typeof given === 'string' || given instanceof Uint8Array) key = createPublicKey(typeof given === 'string' ? given : Buffer.from(given));
      else throw new Error('expected a KeyObject or PEM');
    } catch (error) {
      throw invalid(`publicKey is not a key node:crypto can read: ${(error as Error).message}`, { argument: 'publicKey' });
    }
    if (key.type !== 'public' || (key.asymmetricKeyType !== 'ed25519' && key.asymmetricKeyType !== 'ed448')) {
      throw invalid(`publicKey must be an Ed25519 public key, got ${key.type} ${key.asymmetricKeyType ?? ''}`.trim(), { argument: 'publicKey', got: key.asymmetricKeyType });
    }
    checked.publicKey = key;
  }
  return checked;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Checks the bytes against the expected hash and signature: EDGEINFER_VERIFY_FAILED saying which failed.
 * Returns the bytes' sha256 (hex) and whether a signature was checked.
 */
export function verifyBytes(bytes: Uint8Array, checks: CheckedVerification): { sha256: string; signed: boolean } {
  const sha256 = sha256Hex(bytes);
  if (checks.sha256 !== undefined && checks.sha256 !== sha256) {
    throw new EdgeInferError('EDGEINFER_VERIFY_FAILED', `the model's sha256 is ${sha256}, expected ${checks.sha256}`, { check: 'sha256', expected: checks.sha256, got: sha256 });
  }
  if (checks.signature !== undefined) {
    let valid: boolean;
    try {
      valid = verify(null, bytes, checks.publicKey!, checks.signature);
    } catch {
      valid = false;
    }
    if (!valid) throw new EdgeInferError('EDGEINFER_VERIFY_FAILED', 'the model\'s signature does not verify with the public key given', { check: 'signature', sha256 });
  }
  return { sha256, signed: checks.signature !== undefined };
}

/**
 * How the new model's inputs and outputs differ from the serving one's in ways its callers would notice: a
 * name added or missing, another dtype or rank, a fixed dim changed or made symbolic / fixed. Symbolic dims
 * may be renamed. Empty when compatible.
 */
export function signatureDifferences(
  serving: { inputs: readonly TensorInfo[]; outputs: readonly TensorInfo[] },
  next: { inputs: readonly TensorInfo[]; outputs: readonly TensorInfo[] },
): string[] {
  const differences: string[] = [];
  const compare = (kind: 'input' | 'output', before: readonly TensorInfo[], after: readonly TensorInfo[]) => {
    for (const old of before) {
      const now = after.find((each) => each.name === old.name);
      if (now === undefined) {
        differences.push(`${kind} '${old.name}' is missing`);
        continue;
      }
      if (now.type !== old.type) differences.push(`${kind} '${old.name}' is ${now.type}, was ${old.type}`);
      if (now.dims.length !== old.dims.length) {
        differences.push(`${kind} '${old.name}' has rank ${now.dims.length}, was ${old.dims.length}`);
        continue;
      }
      old.dims.forEach((dim, axis) => {
        const other = now.dims[axis];
        const fixed = typeof dim === 'number';
        if (fixed !== (typeof other === 'number') || (fixed && dim !== other)) differences.push(`${kind} '${old.name}' dim ${axis} is ${String(other)}, was ${String(dim)}`);
      });
    }
    for (const now of after) if (!before.some((old) => old.name === now.name)) differences.push(`${kind} '${now.name}' is new`);
  };
  compare('input', serving.inputs, next.inputs);
  compare('output', serving.outputs, next.outputs);
  return differences;
}
