/**
 * The agent dashboard (docs/dashboard.md), served by the gateway at `/app` and `/app/...`:
 * reads the session (`GET /v1/auth/me`), then shows the sign-in pages or the inbox,
 * conversations and, for admins, the admin pages. Routes are paths (history API).
 */

import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Api, type Me } from "./api.js";
import { Live } from "./live.js";
import { isPublic, parseRoute, pathOf, type Route } from "./router.js";
import { AcceptInvitation, ResetPassword, SignIn } from "./views/auth.js";
import { Shell } from "./views/shell.js";

let current: Route = parseRoute(location.pathname, location.hash);
const routeListeners = new Set<(route: Route) => void>();

/** Goes to `route` (a new history entry unless `replace`). */
export function navigate(route: Route, replace = false): void {
  const path = pathOf(route);
  if (replace) history.replaceState(null, "", path);
  else if (location.pathname !== path) history.pushState(null, "", path);
  current = route;
  for (const listener of routeListeners) listener(route);
}

window.addEventListener("popstate", () => {
  current = parseRoute(location.pathname, location.hash);
  for (const listener of routeListeners) listener(current);
});

function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    routeListeners.add(setRoute);
    return () => void routeListeners.delete(setRoute);
  }, []);
  return route;
}

const api = new Api(location.origin);

function App({ initial }: { initial: Me | null }) {
  const route = useRoute();
  const [me, setMe] = useState<Me | null>(initial);
  const [live, setLive] = useState<Live | null>(null);

  useEffect(() => {
    if (me === null) return;
    const session = new Live(api, me);
    session.openHandler = (id) => navigate({ page: "conversation", id });
    setLive(session);
    void session.start();
    return () => session.stop();
  }, [me]);

  const signedIn = (agent: Me): void => {
    setMe(agent);
    const next = new URLSearchParams(location.search).get("next");
    const target = next?.startsWith("/app") ? parseRoute(next) : { page: "inbox" as const };
    navigate(target, true);
  };
  const signedOut = (): void => {
    setMe(null);
    setLive(null);
    navigate({ page: "sign-in" }, true);
  };

  if (route.page === "invite")
    return <AcceptInvitation api={api} token={route.token} done={signedIn} />;
  if (route.page === "reset")
    return <ResetPassword api={api} token={route.token} done={signedIn} />;
  if (me === null || route.page === "sign-in") {
    if (me !== null) {
      navigate({ page: "inbox" }, true);
      return null;
    }
    return <SignIn api={api} done={signedIn} />;
  }
  if (live === null) return <p class="loading">Loading…</p>;
  return <Shell live={live} route={route} navigate={navigate} signedOut={signedOut} />;
}

async function main(): Promise<void> {
  const mount = document.getElementById("app");
  if (mount === null) return;
  let me: Me | null = null;
  try {
    me = await api.me();
  } catch {
    me = null;
  }
  if (me === null && !isPublic(current)) {
    const next =
      location.pathname === "/app" ? "" : `?next=${encodeURIComponent(location.pathname)}`;
    history.replaceState(null, "", `/app/sign-in${next}`);
    current = { page: "sign-in" };
  }
  render(<App initial={me} />, mount);
}

void main();
