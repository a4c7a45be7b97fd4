import { humanAge } from "@atoll/kube/age";
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, api, type Json } from "./api.js";
import { follow } from "./router.js";

export function Link(props: { href: string; children: ComponentChildren; class?: string }) {
  return (
    <a href={props.href} class={props.class} onClick={follow}>
      {props.children}
    </a>
  );
}

export interface Loaded<T> {
  data?: T;
  error?: ApiError;
  loading: boolean;
}

/**
 * An API answer for a path; a new path (or null, for nothing yet) loads again. Until the new
 * path's answer arrives, loading is true and the previous answer stays to be shown dimmed.
 */
export function useApi<T = Json>(path: string | null): Loaded<T> {
  const [state, setState] = useState<{ path: string | null; data?: T; error?: ApiError }>({ path: null });
  useEffect(() => {
    if (path === null) return;
    let live = true;
    api(path).then(
      (data: T) => live && setState({ path, data }),
      (error: unknown) =>
        live &&
        setState({
          path,
          error: error instanceof ApiError ? error : new ApiError(0, "ERROR", String(error)),
        }),
    );
    return () => {
      live = false;
    };
  }, [path]);
  if (path === null) return { loading: false };
  return {
    ...(state.data !== undefined ? { data: state.data } : {}),
    ...(state.path === path && state.error ? { error: state.error } : {}),
    loading: state.path !== path,
  };
}

/** What the hub said went wrong, in its words. */
export function Problem(props: { error: ApiError | undefined }) {
  if (!props.error) return null;
  return (
    <p class="problem" role="alert">
      <strong>{props.error.code}</strong> {props.error.message}
    </p>
  );
}

export function Table(props: {
  head: string[];
  rows: ComponentChildren[][];
  onRow?: (index: number) => void;
  empty?: string;
  testId?: string;
}) {
  if (props.rows.length === 0) return <p class="empty">{props.empty ?? "Nothing to show."}</p>;
  return (
    <table data-testid={props.testId}>
      <thead>
        <tr>
          {props.head.map((h) => (
            <th key={h}>{h}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {props.rows.map((cells, index) => (
          <tr
            key={index}
            class={props.onRow ? "clickable" : undefined}
            onClick={props.onRow ? () => props.onRow?.(index) : undefined}
          >
            {cells.map((cell, i) => (
              <td key={i}>{cell}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** How long ago a time was, as kubectl's AGE column says it; "never" for no time. */
export const age = (time: string | null | undefined, now = Date.now()): string =>
  time ? humanAge(time, now) : "never";

/**
 * Previous and next of a list the API pages with continue tokens: next follows the token, and
 * previous is the browser's back, since a token leads only forward.
 */
export function Pager(props: {
  page: number;
  next: string | null | undefined;
  loading: boolean;
  onNext: (token: string) => void;
}) {
  return (
    <nav class="pager">
      <button type="button" disabled={props.loading || props.page <= 1} onClick={() => history.back()}>
        ← Previous
      </button>
      <button type="button" disabled={props.loading || !props.next} onClick={() => props.onNext(props.next!)}>
        Next →
      </button>
    </nav>
  );
}

export function Severity(props: { value: string }) {
  return <span class={`severity ${props.value}`}>{props.value}</span>;
}

export function Field(props: { label: string; children: ComponentChildren }) {
  return (
    // biome-ignore lint/a11y/noLabelWithoutControl: the control is the child passed in
    <label class="field">
      <span>{props.label}</span>
      {props.children}
    </label>
  );
}

/** A form's fields as the URL holds them, and the edits not yet submitted. */
export function useFilters<K extends string>(query: URLSearchParams, keys: readonly K[]) {
  const filters = Object.fromEntries(keys.map((key) => [key, query.get(key) ?? ""])) as Record<K, string>;
  const [draft, setDraft] = useState(filters);
  useEffect(() => setDraft(filters), [query.toString()]);
  return { filters, draft, setDraft };
}

/** A text box per key, labelled with it, editing the draft. */
export function TextFields<K extends string>(props: {
  keys: readonly K[];
  draft: Record<K, string>;
  onChange: (draft: Record<K, string>) => void;
}) {
  return (
    <>
      {props.keys.map((key) => (
        <Field label={key[0]!.toUpperCase() + key.slice(1)} key={key}>
          <input
            name={key}
            value={props.draft[key]}
            onInput={(e) => props.onChange({ ...props.draft, [key]: (e.target as HTMLInputElement).value })}
          />
        </Field>
      ))}
    </>
  );
}

/**
 * A button that asks one of the hub's AI features (explain, diagnose) and shows the answer: the
 * rules' when no language model is set or it fails, so there is always one.
 */
export function AiAnswer(props: { path: string; label: string; busy: string; testId?: string }) {
  const [answer, setAnswer] = useState<{ text?: string; error?: ApiError; loading: boolean }>({
    loading: false,
  });
  useEffect(() => setAnswer({ loading: false }), [props.path]);
  const ask = () => {
    setAnswer({ loading: true });
    api(props.path, { method: "POST", body: {} }).then(
      (result: Json) => setAnswer({ text: String(result.answer ?? ""), loading: false }),
      (error: ApiError) => setAnswer({ error, loading: false }),
    );
  };
  return (
    <div class="ai">
      <button type="button" onClick={ask} disabled={answer.loading}>
        {answer.loading ? props.busy : props.label}
      </button>
      <Problem error={answer.error} />
      {answer.text !== undefined && (
        <pre class="answer" data-testid={props.testId}>
          {answer.text}
        </pre>
      )}
    </div>
  );
}
