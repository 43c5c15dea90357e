/** The weight-only tensors of an inference session (see segPredictor), built once and reused per image. */
import * as tf from '@tensorflow/tfjs';

/**
 * Weight-only constants of an inference session, by name. Valid only while no weight changes: create one per
 * evaluation pass and dispose it at the end (the owner of the Map disposes; entries are tf.keep'd).
 */
export type EvalCache = Map<string, tf.Tensor>;

/** `make()` once per cache (kept across tidy scopes), or every call when there is no cache. */
export function evalConst<T extends tf.Tensor>(cache: EvalCache | undefined, key: string, make: () => T): T {
  if (!cache) return make();
  let t = cache.get(key) as T | undefined;
  if (!t) {
    t = tf.keep(tf.tidy(make));
    cache.set(key, t);
  }
  return t;
}

export function disposeEvalCache(cache: EvalCache): void {
  for (const t of cache.values()) t.dispose();
  cache.clear();
}
