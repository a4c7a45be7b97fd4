import type { FunctionComponent } from "preact";
import { useEffect, useErrorBoundary, useState } from "preact/hooks";
import { ApiError, api, type Json, SIGNED_OUT, token } from "./api.js";
import { Link, Problem } from "./components.js";
import { AuditPage } from "./pages/audit.js";
import { ClustersPage } from "./pages/clusters.js";
import { BindingPage, PlacementPage } from "./pages/placement.js";
import { SearchPage } from "./pages/search.js";
import { href, navigate, type Route, useRoute } from "./router.js";

const SECTIONS = [
  { path: "search", label: "Search" },
  { path: "clusters", label: "Clusters" },
  { path: "insight", label: "Insight" },
  { path: "topology", label: "Topology" },
  { path: "placement", label: "Placement" },
  { path: "audit", label: "Gateway audit" },
];

/** Takes a token, checks it with the hub, and keeps it for this tab only. */
function SignIn(props: { onSignedIn: (who: Json) => void; reason?: string }) {
  const [value, setValue] = useState("");
  const [error, setError] = useState<ApiError | undefined>();
  return (
    <main class="signin">
      <h1>Atoll</h1>
      <p class="muted">
        {props.reason ?? "Sign in with an API token (atoll token create, or the demo's token)."}
      </p>
      <form
        onSubmit={async (event) => {
          event.preventDefault();
          token.set(value.trim());
          try {
            props.onSignedIn(await api("/api/v1/whoami"));
          } catch (failure) {
            token.clear();
            setError(failure instanceof ApiError ? failure : new ApiError(0, "ERROR", String(failure)));
          }
        }}
      >
        <input
          type="password"
          name="token"
          aria-label="Token"
          placeholder="atoll_…"
          autocomplete="off"
          value={value}
          onInput={(e) => setValue((e.target as HTMLInputElement).value)}
        />
        <button type="submit" disabled={!value.trim()}>
          Sign in
        </button>
      </form>
      <Problem error={error} />
    </main>
  );
}

/** A page whose module loads when it is first shown: the graph and chart libraries stay off the search page. */
function useLazy<P>(load: () => Promise<FunctionComponent<P>>): FunctionComponent<P> | undefined {
  const [page, setPage] = useState<{ component: FunctionComponent<P> } | undefined>();
  useEffect(() => {
    let live = true;
    load().then((component) => live && setPage({ component }));
    return () => {
      live = false;
    };
  }, []);
  return page?.component;
}

function Lazy(props: { route: Route; load: () => Promise<FunctionComponent<{ route: Route }>> }) {
  const Component = useLazy(props.load);
  return Component ? <Component route={props.route} /> : <p class="page muted">Loading…</p>;
}

const loadInsight = () => import("./pages/insight.js").then((m) => m.InsightPage);
const loadTopology = () => import("./pages/topology.js").then((m) => m.TopologyPage);

/** A page that fails to draw says so, and the rest of the console goes on working. */
function Page(props: { route: Route }) {
  const [error, reset] = useErrorBoundary();
  useEffect(() => reset(), [props.route.path, props.route.query.toString()]);
  if (error)
    return (
      <section class="page">
        <p class="problem" role="alert">
          <strong>This page could not be drawn</strong> {String((error as Error).message ?? error)}: reload
          it, and report it if it happens again.
        </p>
      </section>
    );
  return <Section route={props.route} />;
}

function Section(props: { route: Route }) {
  const { route } = props;
  const [section, ...rest] = route.path.split("/");
  switch (section) {
    case "clusters":
      return <ClustersPage />;
    case "insight":
      return <Lazy key="insight" route={route} load={loadInsight} />;
    case "topology":
      return <Lazy key="topology" route={route} load={loadTopology} />;
    case "placement":
      return rest.length === 2 ? (
        <BindingPage namespace={decodeURIComponent(rest[0]!)} name={decodeURIComponent(rest[1]!)} />
      ) : (
        <PlacementPage route={route} />
      );
    case "audit":
      return <AuditPage route={route} />;
    default:
      return <SearchPage route={route} />;
  }
}

export function App() {
  const route = useRoute();
  const [who, setWho] = useState<Json | null>(null);
  const [reason, setReason] = useState<string | undefined>();
  const [checking, setChecking] = useState(Boolean(token.get()));
  useEffect(() => {
    if (token.get())
      api("/api/v1/whoami").then(
        (principal: Json) => {
          setWho(principal);
          setChecking(false);
        },
        () => setChecking(false),
      );
    const signedOut = () => {
      setWho(null);
      setReason("The hub no longer takes that token: sign in again.");
    };
    window.addEventListener(SIGNED_OUT, signedOut);
    return () => window.removeEventListener(SIGNED_OUT, signedOut);
  }, []);
  if (checking) return <p class="muted">Loading…</p>;
  if (!who) return <SignIn onSignedIn={setWho} reason={reason} />;
  const [section] = route.path.split("/");
  const admin = (who.grants ?? []).some((g: Json) =>
    (g.verbs ?? []).some((v: string) => v === "*" || v === "admin"),
  );
  return (
    <>
      <header class="top">
        <Link href={href("search")} class="brand">
          Atoll
        </Link>
        <nav>
          {SECTIONS.filter((s) => s.path !== "audit" || admin).map((s) => (
            <Link key={s.path} href={href(s.path)} class={(section || "search") === s.path ? "active" : ""}>
              {s.label}
            </Link>
          ))}
        </nav>
        <span class="who" data-testid="whoami">
          {who.name} ({who.role})
          <button
            type="button"
            onClick={() => {
              token.clear();
              setWho(null);
              setReason(undefined);
              navigate(href("search"));
            }}
          >
            Sign out
          </button>
        </span>
      </header>
      <Page route={route} />
    </>
  );
}
