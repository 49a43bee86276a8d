// A worker thread that answers Cedar authorisation calls for decision-workers.ts, so
// that policy evaluation runs beside the broker's event loop instead of on it.
//
// Plain JavaScript on purpose: it must load in any Node process, including test
// runners that transform only the main thread's TypeScript. It holds its own Cedar
// instance and keeps each policy set parsed under a bounded number of slot names,
// like prepared.ts does on the main thread (Cedar's own cache never evicts; a slot
// name reused overwrites the set it held).
//
// Message in:  { id, key, policies, calls }  (calls: StatefulAuthorizationCall minus the set id)
// Message out: { id, answers } or { id, error }
import { parentPort, workerData } from 'node:worker_threads';
import { setFlagsFromString } from 'node:v8';

// The same V8 flag as cedar.ts: inlined JS-to-wasm calls crashed Node 20 under load.
setFlagsFromString('--no-turbo-inline-js-wasm-calls');
const { default: cedar } = await import('@cedar-policy/cedar-wasm/nodejs');

const capacity = workerData?.capacity ?? 256;
/** key → slot name, least recently used first. */
const slots = new Map();
/** Slot names holding no set (a parse into them failed). */
const free = [];
let next = 0;

function slotFor(key, policies) {
  const held = slots.get(key);
  if (held !== undefined) {
    slots.delete(key);
    slots.set(key, held);
    return held;
  }
  let slot = free.pop();
  if (slot === undefined) {
    if (next < capacity) {
      slot = `slot-${next++}`;
    } else {
      const [oldestKey, oldestSlot] = slots.entries().next().value;
      slots.delete(oldestKey);
      slot = oldestSlot;
    }
  }
  const parsed = cedar.preparsePolicySet(slot, { staticPolicies: policies });
  if (parsed.type === 'failure') {
    free.push(slot);
    throw new Error(
      `Cedar could not parse a compiled bundle: ${parsed.errors.map((e) => e.message).join('; ')}`,
    );
  }
  slots.set(key, slot);
  return slot;
}

parentPort.on('message', (message) => {
  const { id, key, policies, calls } = message;
  try {
    const slot = slotFor(key, policies);
    const answers = calls.map((call) =>
      cedar.statefulIsAuthorized({ ...call, preparsedPolicySetId: slot, validateRequest: false }),
    );
    parentPort.postMessage({ id, answers });
  } catch (err) {
    parentPort.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
});
