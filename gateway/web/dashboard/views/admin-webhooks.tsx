/** Admin: webhook endpoints, their deliveries, and replays (docs/webhooks.md). */

import { useState } from "preact/hooks";
import type { Live } from "../live.js";
import type { Route } from "../router.js";
import { Problem, Secret, Section, useAction, useList } from "./parts.js";
import { shortTime } from "./common.js";

interface Endpoint {
  id: string;
  url: string;
  kind: string;
  description: string | null;
  status: string;
  paused_reason: string | null;
  event_types: string[];
}

interface Delivery {
  id: string;
  event_type: string;
  status: string;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  created_at: string;
}

interface Props {
  live: Live;
  id: string | null;
  navigate: (route: Route) => void;
}

export function Webhooks({ live, id, navigate }: Props) {
  const [endpoints, loadProblem, reload] = useList<Endpoint>(live, "/v1/webhooks");
  const [problem, act] = useAction();
  const [url, setUrl] = useState("");
  const [description, setDescription] = useState("");
  const [secret, setSecret] = useState<string | null>(null);
  const chosen = endpoints?.find((endpoint) => endpoint.id === id) ?? null;
  return (
    <>
      <h1>Webhooks</h1>
      <Problem text={loadProblem ?? problem} />
      <Secret label="The endpoint's signing secret" value={secret} />
      <table>
        <thead>
          <tr>
            <th scope="col">URL</th>
            <th scope="col">Description</th>
            <th scope="col">Status</th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {endpoints?.map((endpoint) => (
            <tr key={endpoint.id} class={endpoint.id === id ? "current" : ""}>
              <td>
                <a
                  href={`/app/admin/webhooks/${endpoint.id}`}
                  onClick={(e) => {
                    e.preventDefault();
                    navigate({ page: "admin", section: "webhooks", id: endpoint.id });
                  }}
                >
                  {endpoint.url}
                </a>
              </td>
              <td>{endpoint.description ?? "—"}</td>
              <td>
                {endpoint.status}
                {endpoint.paused_reason ? ` (${endpoint.paused_reason})` : ""}
              </td>
              <td>
                <div class="row">
                  <button
                    type="button"
                    onClick={() =>
                      act(
                        () =>
                          live.api.request("PATCH", `/v1/webhooks/${endpoint.id}`, {
                            body: { status: endpoint.status === "active" ? "disabled" : "active" },
                          }),
                        reload,
                      )
                    }
                  >
                    {endpoint.status === "active" ? "Disable" : "Resume"}
                  </button>
                  <button
                    type="button"
                    class="danger"
                    onClick={() => {
                      if (confirm(`Delete the endpoint ${endpoint.url}?`)) {
                        act(
                          () => live.api.request("DELETE", `/v1/webhooks/${endpoint.id}`),
                          reload,
                        );
                      }
                    }}
                  >
                    Delete
                  </button>
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {chosen !== null && <Deliveries key={chosen.id} live={live} endpoint={chosen} />}
      <Section title="New endpoint">
        <form
          class="stack"
          onSubmit={(e) => {
            e.preventDefault();
            act(async () => {
              const body: Record<string, string> = { url };
              if (description.trim() !== "") body.description = description.trim();
              const made = await live.api.request<{ secret: string }>("POST", "/v1/webhooks", {
                body,
              });
              setSecret(made.secret);
              setUrl("");
              setDescription("");
              reload();
            });
          }}
        >
          <label for="webhook-url">URL</label>
          <input
            id="webhook-url"
            type="url"
            required
            value={url}
            onInput={(e) => setUrl(e.currentTarget.value)}
          />
          <label for="webhook-description">Description</label>
          <input
            id="webhook-description"
            value={description}
            onInput={(e) => setDescription(e.currentTarget.value)}
          />
          <button class="primary" type="submit">
            Add endpoint
          </button>
        </form>
      </Section>
    </>
  );
}

function Deliveries({ live, endpoint }: { live: Live; endpoint: Endpoint }) {
  const [status, setStatus] = useState("");
  const path = `/v1/webhooks/${endpoint.id}/deliveries?limit=50${status ? `&status=${status}` : ""}`;
  const [deliveries, loadProblem, reload] = useList<Delivery>(live, path);
  const [problem, act] = useAction();
  const [replayed, setReplayed] = useState<string | null>(null);
  const replay = (delivery: Delivery): void =>
    act(
      () =>
        live.api.request("POST", `/v1/webhooks/${endpoint.id}/deliveries/${delivery.id}/replay`),
      () => {
        setReplayed(`Replayed ${delivery.event_type}.`);
        reload();
      },
    );
  return (
    <Section title={`Deliveries to ${endpoint.url}`}>
      <div class="row">
        <label for="delivery-status">Status</label>
        <select
          id="delivery-status"
          value={status}
          onChange={(e) => setStatus(e.currentTarget.value)}
        >
          <option value="">All</option>
          <option value="pending">Pending</option>
          <option value="delivered">Delivered</option>
          <option value="dead">Dead</option>
          <option value="cancelled">Cancelled</option>
        </select>
        <button type="button" class="quiet" onClick={reload}>
          Refresh
        </button>
        {replayed && <span role="status">{replayed}</span>}
      </div>
      <Problem text={loadProblem ?? problem} />
      <table>
        <thead>
          <tr>
            <th scope="col">Event</th>
            <th scope="col">Status</th>
            <th scope="col">Attempts</th>
            <th scope="col">Last answer</th>
            <th scope="col">Created</th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {deliveries?.length === 0 && (
            <tr>
              <td colSpan={6}>No deliveries yet.</td>
            </tr>
          )}
          {deliveries?.map((delivery) => (
            <tr key={delivery.id}>
              <td>{delivery.event_type}</td>
              <td>{delivery.status}</td>
              <td>{delivery.attempts}</td>
              <td>{delivery.last_status ?? delivery.last_error ?? "—"}</td>
              <td>{shortTime(delivery.created_at)}</td>
              <td>
                {(delivery.status === "dead" || delivery.status === "delivered") && (
                  <button type="button" onClick={() => replay(delivery)}>
                    Replay
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}
