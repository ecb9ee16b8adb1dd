/** `f` run at most once: every later call gets the first call's promise. */
export function once<T>(f: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => (result ??= f());
}
