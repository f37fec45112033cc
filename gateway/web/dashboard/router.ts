/**
 * The dashboard's pages, by path under `/app` (the gateway answers every `/app/...` path with
 * the same page; the script routes). Pure, but for `navigate`.
 */

export type AdminSection = "widgets" | "api-keys" | "webhooks" | "agents";

export type Route =
  | { page: "inbox" }
  | { page: "conversation"; id: string }
  | { page: "sign-in" }
  | { page: "invite"; token: string }
  | { page: "reset"; token: string }
  | { page: "admin"; section: AdminSection; id?: string }
  | { page: "not-found" };

export const ADMIN_SECTIONS: readonly AdminSection[] = [
  "widgets",
  "api-keys",
  "webhooks",
  "agents",
];

/** The token of a `#token=...` fragment (invitation and reset links carry it there). */
export function tokenOf(hash: string): string {
  return new URLSearchParams(hash.replace(/^#/, "")).get("token") ?? "";
}

export function parseRoute(pathname: string, hash = ""): Route {
  const parts = pathname
    .replace(/^\/app\/?/, "")
    .split("/")
    .filter((part) => part !== "")
    .map((part) => decodeURIComponent(part));
  const [first, second, third] = parts;
  if (first === undefined) return { page: "inbox" };
  if (first === "sign-in" && parts.length === 1) return { page: "sign-in" };
  if (first === "invite" && parts.length === 1) return { page: "invite", token: tokenOf(hash) };
  if (first === "reset" && parts.length === 1) return { page: "reset", token: tokenOf(hash) };
  if (first === "c" && second !== undefined && parts.length === 2) {
    return { page: "conversation", id: second };
  }
  if (first === "admin") {
    if (second === undefined) return { page: "admin", section: "widgets" };
    const section = ADMIN_SECTIONS.find((s) => s === second);
    if (section !== undefined && parts.length <= 3) {
      return third === undefined
        ? { page: "admin", section }
        : { page: "admin", section, id: third };
    }
  }
  return { page: "not-found" };
}

export function pathOf(route: Route): string {
  switch (route.page) {
    case "inbox":
      return "/app";
    case "conversation":
      return `/app/c/${encodeURIComponent(route.id)}`;
    case "sign-in":
      return "/app/sign-in";
    case "invite":
      return "/app/invite";
    case "reset":
      return "/app/reset";
    case "admin":
      return `/app/admin/${route.section}${route.id ? `/${encodeURIComponent(route.id)}` : ""}`;
    case "not-found":
      return "/app";
  }
}

/** Routes every visitor may see without being signed in. */
export function isPublic(route: Route): boolean {
  return route.page === "sign-in" || route.page === "invite" || route.page === "reset";
}
