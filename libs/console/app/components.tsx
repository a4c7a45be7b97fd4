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

/** An API answer for a path; a new path (or null, for nothing yet) loads again. */
export function useApi<T = Json>(path: string | null): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({ loading: path !== null });
  useEffect(() => {
    if (path === null) {
      setState({ loading: false });
      return;
    }
    let live = true;
    setState((previous) => ({ ...previous, loading: true }));
    api(path).then(
      (data: T) => live && setState({ data, loading: false }),
      (error: unknown) =>
        live &&
        setState({
          error: error instanceof ApiError ? error : new ApiError(0, "ERROR", String(error)),
          loading: false,
        }),
    );
    return () => {
      live = false;
    };
  }, [path]);
  return state;
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
            // biome-ignore lint/suspicious/noArrayIndexKey: rows are positions in one answer
            key={index}
            class={props.onRow ? "clickable" : undefined}
            onClick={props.onRow ? () => props.onRow?.(index) : undefined}
          >
            {cells.map((cell, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: cells are columns
              <td key={i}>{cell}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** "3m", "2h", "5d": how long ago a time was. */
export function age(time: string | null | undefined, now = Date.now()): string {
  if (!time) return "never";
  const seconds = Math.max(0, Math.round((now - Date.parse(time)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86_400)}d`;
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
