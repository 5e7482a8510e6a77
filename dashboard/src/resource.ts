/**
 * Loads one API resource for a page: on open, whenever its path changes, and again (debounced to
 * at most once a second) when the event stream reports something the page shows. Nothing polls:
 * with the tab hidden the stream is closed, so nothing is fetched either.
 *
 *   const list = useResource<ContainerList>('/containers', (e) => e.name === 'turn' && e.data.type === 'container');
 *   if (list.data) ...; list.reload();
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api';
import { subscribe } from './events';
import type { LiveEvent } from './types';

export interface Resource<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
}

const REFRESH_DEBOUNCE_MS = 1_000;

/** `relevant` picks the events that should refresh this resource; `ready` (a (re)connect) always does. */
export function useResource<T>(path: string, relevant?: (event: LiveEvent) => boolean): Resource<T> {
  const [state, setState] = useState<{ path: string; data?: T; error?: string; loading: boolean }>({ path, loading: true });
  const [generation, setGeneration] = useState(0);
  const relevantRef = useRef(relevant);
  relevantRef.current = relevant;

  useEffect(() => {
    let current = true;
    setState((s) => (s.path === path ? { ...s, loading: true } : { path, loading: true }));
    api<T>(path).then(
      (data) => { if (current) setState({ path, data, loading: false }); },
      (err: Error) => { if (current) setState((s) => ({ path, data: s.path === path ? s.data : undefined, error: err.message, loading: false })); },
    );
    return () => { current = false; };
  }, [path, generation]);

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = subscribe((event) => {
      if (event.name !== 'ready' && !relevantRef.current?.(event)) return;
      timer ??= setTimeout(() => { timer = undefined; setGeneration((g) => g + 1); }, REFRESH_DEBOUNCE_MS);
    });
    return () => { off(); clearTimeout(timer); };
  }, []);

  // A new path shows nothing until its own answer arrives, never the previous page's data.
  const mine = state.path === path;
  return {
    data: mine ? state.data : undefined,
    error: mine ? state.error : undefined,
    loading: !mine || state.loading,
    reload: () => setGeneration((g) => g + 1),
  };
}
