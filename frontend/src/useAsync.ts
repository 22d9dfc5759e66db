// Loading, error and data of one request, with reload (optionally quiet: keeps showing the old
// data while the new arrives, for live updates).
import { useCallback, useEffect, useRef, useState } from "react";

export interface Async<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload(quiet?: boolean): void;
}

export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): Async<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<Error>();
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const run = useCallback(load, deps);
  const reload = useCallback(
    (quiet = false) => {
      const mine = ++seq.current;
      if (!quiet) setLoading(true);
      run().then(
        (value) => {
          if (mine !== seq.current) return;
          setData(value);
          setError(undefined);
          setLoading(false);
        },
        (err: Error) => {
          if (mine !== seq.current) return;
          setError(err);
          setLoading(false);
        },
      );
    },
    [run],
  );
  useEffect(() => reload(), [reload]);
  return { data, error, loading, reload };
}

/** Calls `fn` at most once per `ms`, after the last call (for bursts of live events). */
export function debounce(fn: () => void, ms: number): () => void {
  let t: number | undefined;
  return () => {
    window.clearTimeout(t);
    t = window.setTimeout(fn, ms);
  };
}
