/**
 * The admin pages (admins only; the gateway refuses the routes to agents with 403 anyway):
 * widgets, API keys, webhooks (`admin-webhooks.tsx`) and agents.
 */

import { useState } from "preact/hooks";
import type { Agent, AgentRole } from "../api.js";
import type { Live } from "../live.js";
import { ADMIN_SECTIONS, type AdminSection, type Route } from "../router.js";
import { Webhooks } from "./admin-webhooks.js";
import { shortTime } from "./common.js";
import { Problem, Secret, Section, useAction, useList } from "./parts.js";

const SECTION_NAMES: Record<AdminSection, string> = {
  widgets: "Widgets",
  "api-keys": "API keys",
  webhooks: "Webhooks",
  agents: "Agents",
};

export interface AdminProps {
  live: Live;
  route: Extract<Route, { page: "admin" }>;
  navigate: (route: Route) => void;
}

export function Admin({ live, route, navigate }: AdminProps) {
  return (
    <div class="admin">
      <nav class="admin-nav" aria-label="Admin">
        {ADMIN_SECTIONS.map((section) => (
          <a
            key={section}
            href={`/app/admin/${section}`}
            aria-current={route.section === section ? "page" : undefined}
            onClick={(e) => {
              e.preventDefault();
              navigate({ page: "admin", section });
            }}
          >
            {SECTION_NAMES[section]}
          </a>
        ))}
      </nav>
      <main class="page">
        {route.section === "widgets" && <Widgets live={live} />}
        {route.section === "api-keys" && <ApiKeys live={live} />}
        {route.section === "webhooks" && (
          <Webhooks live={live} id={route.id ?? null} navigate={navigate} />
        )}
        {route.section === "agents" && <Agents live={live} />}
      </main>
    </div>
  );
}

interface Widget {
  id: string;
  name: string;
  allowed_origins: string[];
  bot_id?: string | null;
  live_agent_endpoint_url?: string | null;
  identity_secret_set?: boolean;
  identity_required?: boolean;
}

interface Bot {
  id: string;
  name: string;
  kind: string;
}

function Widgets({ live }: { live: Live }) {
  // The bots to choose from (null: no bots route on this gateway; the id is typed instead).
  const [bots] = useList<Bot>(live, "/v1/bots");
  const [widgets, loadProblem, reload] = useList<Widget>(live, "/v1/widgets");
  const [problem, act] = useAction();
  const [name, setName] = useState("");
  const [origins, setOrigins] = useState("");
  return (
    <>
      <h1>Widgets</h1>
      <Problem text={loadProblem ?? problem} />
      {widgets?.map((widget) => (
        <WidgetCard key={widget.id} live={live} widget={widget} bots={bots} reload={reload} />
      ))}
      <Section title="New widget">
        <form
          class="stack"
          onSubmit={(e) => {
            e.preventDefault();
            act(
              () =>
                live.api.request("POST", "/v1/widgets", {
                  body: { name, allowed_origins: lines(origins) },
                }),
              () => {
                setName("");
                setOrigins("");
                reload();
              },
            );
          }}
        >
          <label for="widget-name">Name</label>
          <input
            id="widget-name"
            required
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
          <label for="widget-origins">
            Allowed origins (one per line, e.g. https://shop.example.com)
          </label>
          <textarea
            id="widget-origins"
            rows={2}
            value={origins}
            onInput={(e) => setOrigins(e.currentTarget.value)}
          />
          <button class="primary" type="submit">
            Create widget
          </button>
        </form>
      </Section>
    </>
  );
}

function lines(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((line) => line.trim())
    .filter((line) => line !== "");
}

function WidgetCard(props: { live: Live; widget: Widget; bots: Bot[] | null; reload: () => void }) {
  const { live, widget, bots, reload } = props;
  const [origins, setOrigins] = useState(widget.allowed_origins.join("\n"));
  const [endpoint, setEndpoint] = useState(widget.live_agent_endpoint_url ?? "");
  const [bot, setBot] = useState(widget.bot_id ?? "");
  const [secret, setSecret] = useState<string | null>(null);
  const [problem, act] = useAction();
  const [saved, setSaved] = useState(false);
  const prefix = `widget-${widget.id}`;
  const save = (e: Event): void => {
    e.preventDefault();
    setSaved(false);
    // Only what changed: a widget may refuse a field it never had set to null.
    const body: Record<string, unknown> = { allowed_origins: lines(origins) };
    const url = endpoint.trim();
    if (url !== (widget.live_agent_endpoint_url ?? "")) body.live_agent_endpoint_url = url || null;
    if (bot.trim() !== (widget.bot_id ?? "")) body.bot_id = bot.trim() || null;
    act(
      () => live.api.request("PATCH", `/v1/widgets/${widget.id}`, { body }),
      () => {
        setSaved(true);
        reload();
      },
    );
  };
  return (
    <Section title={widget.name}>
      <p class="hint">
        <code>{widget.id}</code>
      </p>
      <form class="stack" onSubmit={save}>
        <label for={`${prefix}-origins`}>Allowed origins</label>
        <textarea
          id={`${prefix}-origins`}
          rows={2}
          value={origins}
          onInput={(e) => setOrigins(e.currentTarget.value)}
        />
        <label for={`${prefix}-bot`}>Bot</label>
        {bots === null ? (
          <input id={`${prefix}-bot`} value={bot} onInput={(e) => setBot(e.currentTarget.value)} />
        ) : (
          <select id={`${prefix}-bot`} value={bot} onChange={(e) => setBot(e.currentTarget.value)}>
            <option value="">No bot: the team answers</option>
            {bots.map((b) => (
              <option key={b.id} value={b.id}>
                {b.name} ({b.kind})
              </option>
            ))}
          </select>
        )}
        <label for={`${prefix}-endpoint`}>Live-agent endpoint URL (empty: your team answers)</label>
        <input
          id={`${prefix}-endpoint`}
          type="url"
          value={endpoint}
          onInput={(e) => setEndpoint(e.currentTarget.value)}
        />
        <div class="row">
          <button class="primary" type="submit">
            Save
          </button>
          <button
            type="button"
            onClick={() =>
              act(async () => {
                const answer = await live.api.request<{ identity_secret: string }>(
                  "POST",
                  `/v1/widgets/${widget.id}/identity-secret`,
                  { body: {} },
                );
                setSecret(answer.identity_secret);
              })
            }
          >
            {widget.identity_secret_set ? "Rotate identity secret" : "Create identity secret"}
          </button>
          {saved && <span role="status">Saved.</span>}
        </div>
      </form>
      <Secret label="The widget's identity secret" value={secret} />
      <Problem text={problem} />
    </Section>
  );
}

interface ApiKey {
  id: string;
  name: string | null;
  created_at: string;
}

function ApiKeys({ live }: { live: Live }) {
  const [keys, loadProblem, reload] = useList<ApiKey>(live, "/v1/api-keys");
  const [problem, act] = useAction();
  const [name, setName] = useState("");
  const [secret, setSecret] = useState<string | null>(null);
  return (
    <>
      <h1>API keys</h1>
      <Problem text={loadProblem ?? problem} />
      <Secret label="The new key" value={secret} />
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Id</th>
            <th scope="col">Created</th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {keys?.map((key) => (
            <tr key={key.id}>
              <td>{key.name ?? "—"}</td>
              <td>
                <code>{key.id}</code>
              </td>
              <td>{shortTime(key.created_at)}</td>
              <td>
                <button
                  type="button"
                  class="danger"
                  onClick={() => {
                    if (
                      confirm(`Revoke ${key.name ?? key.id}? Everything using it stops working.`)
                    ) {
                      act(() => live.api.request("DELETE", `/v1/api-keys/${key.id}`), reload);
                    }
                  }}
                >
                  Revoke
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Section title="New API key">
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            act(async () => {
              const answer = await live.api.request<{ secret: string }>("POST", "/v1/api-keys", {
                body: { name },
              });
              setSecret(answer.secret);
              setName("");
              reload();
            });
          }}
        >
          <label for="key-name">Name</label>
          <input id="key-name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
          <button class="primary" type="submit">
            Create key
          </button>
        </form>
      </Section>
    </>
  );
}

function Agents({ live }: { live: Live }) {
  const [agents, loadProblem, reload] = useList<Agent>(live, "/v1/agents");
  const [problem, act] = useAction();
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<AgentRole>("agent");
  const [link, setLink] = useState<string | null>(null);
  const [linkFor, setLinkFor] = useState("the new agent");
  return (
    <>
      <h1>Agents</h1>
      <Problem text={loadProblem ?? problem} />
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Email</th>
            <th scope="col">Role</th>
            <th scope="col">Presence</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {agents?.map((agent) => (
            <tr key={agent.id}>
              <td>{agent.name}</td>
              <td>{agent.email ?? "—"}</td>
              <td>
                <label class="sr-only" for={`role-${agent.id}`}>
                  Role of {agent.name}
                </label>
                <select
                  id={`role-${agent.id}`}
                  value={agent.role ?? "agent"}
                  disabled={agent.id === live.me.id}
                  onChange={(e) =>
                    act(
                      () =>
                        live.api.request("PATCH", `/v1/agents/${agent.id}`, {
                          body: { role: e.currentTarget.value },
                        }),
                      reload,
                    )
                  }
                >
                  <option value="agent">Agent</option>
                  <option value="admin">Admin</option>
                </select>
              </td>
              <td>
                <span
                  class={`dot ${live.presence.get(agent.id) ?? "offline"}`}
                  aria-hidden="true"
                />{" "}
                {live.presence.get(agent.id) ?? "offline"}
              </td>
              <td>
                {agent.id === live.me.id ? (
                  "You"
                ) : (
                  <span class="row">
                    <button
                      type="button"
                      onClick={() =>
                        act(async () => {
                          const answer = await live.api.request<{ reset_url: string }>(
                            "POST",
                            `/v1/agents/${agent.id}/password-reset`,
                            { body: {} },
                          );
                          setLink(answer.reset_url);
                          setLinkFor(`a password reset for ${agent.name}`);
                        })
                      }
                    >
                      Reset link
                    </button>
                    <button
                      type="button"
                      class={agent.status === "active" ? "danger" : ""}
                      onClick={() =>
                        act(
                          () =>
                            live.api.request("PATCH", `/v1/agents/${agent.id}`, {
                              body: { status: agent.status === "active" ? "disabled" : "active" },
                            }),
                          reload,
                        )
                      }
                    >
                      {agent.status === "active" ? "Deactivate" : "Reactivate"}
                    </button>
                  </span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Section title="Invite an agent">
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            act(async () => {
              const answer = await live.api.request<{ invitation_url: string }>(
                "POST",
                "/v1/agents/invitations",
                { body: { email, role } },
              );
              setLink(answer.invitation_url);
              setLinkFor("the new agent");
              setEmail("");
              reload();
            });
          }}
        >
          <label for="invite-email">Email</label>
          <input
            id="invite-email"
            type="email"
            required
            value={email}
            onInput={(e) => setEmail(e.currentTarget.value)}
          />
          <label for="invite-role">Role</label>
          <select
            id="invite-role"
            value={role}
            onChange={(e) => setRole(e.currentTarget.value === "admin" ? "admin" : "agent")}
          >
            <option value="agent">Agent</option>
            <option value="admin">Admin</option>
          </select>
          <button class="primary" type="submit">
            Invite
          </button>
        </form>
        {link !== null && (
          <div class="secret" role="status">
            <p>Send this one-time link to {linkFor} (sending email is not chatgate's job):</p>
            <code data-testid="invitation-url">{link}</code>
          </div>
        )}
      </Section>
    </>
  );
}
