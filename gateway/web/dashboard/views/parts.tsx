/** Pieces the admin pages share: a loaded list, an action with its error, a secret shown once. */

import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { Live } from "../live.js";
import { problemText } from "./common.js";

/** Loads `path`'s `data` list; `reload()` reads it again. */
export function useList<T>(live: Live, path: string): [T[] | null, string | null, () => void] {
  const [items, setItems] = useState<T[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    live.api.request<{ data: T[] }>("GET", path).then(
      (answer) => setItems(answer.data),
      (error: unknown) => setProblem(problemText(error)),
    );
  }, [path, tick]);
  return [items, problem, () => setTick((n) => n + 1)];
}

/** Runs an admin change, then `after`; its error goes to `setProblem`. */
export function useAction(): [
  string | null,
  (run: () => Promise<unknown>, after?: () => void) => void,
  (text: string | null) => void,
] {
  const [problem, setProblem] = useState<string | null>(null);
  const act = (run: () => Promise<unknown>, after?: () => void): void => {
    setProblem(null);
    run().then(
      () => after?.(),
      (error: unknown) => setProblem(problemText(error)),
    );
  };
  return [problem, act, setProblem];
}

export function Problem({ text }: { text: string | null }) {
  return text === null ? null : (
    <p class="problem" role="alert">
      {text}
    </p>
  );
}

/** A secret shown once, with a note saying so. */
export function Secret({ label, value }: { label: string; value: string | null }) {
  if (value === null) return null;
  return (
    <div class="secret" role="status">
      <p>{label} (shown only now; copy it somewhere safe):</p>
      <code>{value}</code>
    </div>
  );
}

export function Section({ title, children }: { title: string; children: ComponentChildren }) {
  return (
    <section class="card">
      <h2>{title}</h2>
      {children}
    </section>
  );
}
