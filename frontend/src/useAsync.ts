// Loading, error and data of one request, with reload (optionally quiet: keeps showing the old
// data while the new arrives, for live updates).
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";

export interface Async<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload(quiet?: boolean): void;
}

interface Settled<T> {
  data?: T;
  error?: Error;
  /** The key the last load that finished was for. */
  key?: string;
}

/**
 * Runs `load` now and again whenever `key` changes, like a query key: it holds everything
 * `load` reads (compared as JSON). The last data stays while a new load runs; only the answer
 * of the latest load counts.
 */
export function useAsync<T>(load: () => Promise<T>, key: unknown[]): Async<T> {
  // Loads and reloads always call the `load` of the latest render.
  const latest = useRef(load);
  useLayoutEffect(() => {
    latest.current = load;
  });
  const current = JSON.stringify(key);
  const [settled, setSettled] = useState<Settled<T>>({});
  const [reloading, setReloading] = useState(false);
  const seq = useRef(0);

  const run = useCallback((forKey: string) => {
    const mine = ++seq.current;
    latest.current().then(
      (data) => {
        if (mine !== seq.current) return;
        setSettled({ data, key: forKey });
        setReloading(false);
      },
      (error: Error) => {
        if (mine !== seq.current) return;
        setSettled((s) => ({ ...s, error, key: forKey }));
        setReloading(false);
      },
    );
  }, []);
  useEffect(() => run(current), [run, current]);

  const reload = useCallback(
    (quiet = false) => {
      if (!quiet) setReloading(true);
      run(current);
    },
    [run, current],
  );
  return { data: settled.data, error: settled.error, loading: settled.key !== current || reloading, reload };
}

/** Calls `fn` at most once per `ms`, after the last call (for bursts of live events). */
export function debounce(fn: () => void, ms: number): () => void {
  let t: number | undefined;
  return () => {
    window.clearTimeout(t);
    t = window.setTimeout(fn, ms);
  };
}
