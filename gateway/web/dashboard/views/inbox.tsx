/** The inbox column: filters, search (`GET /v1/search`), and the conversations, live. */

import { useEffect, useState } from "preact/hooks";
import type { SearchHit } from "../api.js";
import type { AssigneeFilter, InboxEntry, StatusFilter } from "../inbox.js";
import type { Live } from "../live.js";
import type { Route } from "../router.js";
import { problemText, STATUS_NAMES, shortTime, who } from "./common.js";

const STATUS_OPTIONS: [StatusFilter, string][] = [
  ["active", "Active"],
  ["agent_requested", "Waiting"],
  ["open", "Open"],
  ["bot_active", "With the bot"],
  ["resolved", "Resolved"],
  ["closed", "Closed"],
  ["all", "All"],
];

const ASSIGNEES: [AssigneeFilter, string][] = [
  ["mine", "Mine"],
  ["unassigned", "Unassigned"],
  ["all", "All"],
];

interface Props {
  live: Live;
  openId: string | null;
  navigate: (route: Route) => void;
}

export function InboxList({ live, openId, navigate }: Props) {
  const [query, setQuery] = useState("");
  const [hits, setHits] = useState<SearchHit[] | null>(null);
  const [searchProblem, setSearchProblem] = useState<string | null>(null);
  const filters = live.filters;
  const entries = live.inbox.list(filters, live.me.id);
  const counts = live.inbox.counts(live.me.id, filters.assignee);
  // The contacts of the rows shown, each read once (live.contacts keeps them).
  const shownContacts = entries.map((e) => e.conversation.contact_id ?? "").join(",");
  useEffect(() => live.contacts.want(shownContacts.split(",")), [live, shownContacts]);

  const search = (event: Event): void => {
    event.preventDefault();
    const q = query.trim();
    if (q === "") {
      setHits(null);
      return;
    }
    setSearchProblem(null);
    live.api.search(q).then(
      (answer) => setHits(answer.data),
      (error: unknown) => setSearchProblem(problemText(error)),
    );
  };
  const setFilters = (changes: Partial<typeof filters>): void => {
    live.filters = { ...filters, ...changes };
    live.changed();
  };
  const open = (id: string): void => navigate({ page: "conversation", id });

  return (
    <aside class="inbox" aria-label="Conversations">
      <form class="search" role="search" onSubmit={search}>
        <label for="search" class="sr-only">
          Search conversations
        </label>
        <input
          id="search"
          type="search"
          placeholder="Search name, email or messages"
          value={query}
          onInput={(e) => {
            setQuery(e.currentTarget.value);
            if (e.currentTarget.value === "") setHits(null);
          }}
        />
      </form>
      {hits === null ? (
        <>
          <div class="filters">
            <label for="status-filter" class="sr-only">
              Status
            </label>
            <select
              id="status-filter"
              value={filters.status}
              onChange={(e) => setFilters({ status: e.currentTarget.value as StatusFilter })}
            >
              {STATUS_OPTIONS.map(([value, label]) => (
                <option key={value} value={value}>
                  {label} ({counts[value] ?? 0})
                </option>
              ))}
            </select>
            <div class="segmented" role="group" aria-label="Assignee">
              {ASSIGNEES.map(([value, label]) => (
                <button
                  key={value}
                  type="button"
                  aria-pressed={filters.assignee === value}
                  onClick={() => setFilters({ assignee: value })}
                >
                  {label}
                </button>
              ))}
            </div>
          </div>
          <ul class="conversations" aria-label="Inbox">
            {entries.length === 0 && <li class="none">No conversations here.</li>}
            {entries.map((entry) => (
              <Item
                key={entry.conversation.id}
                entry={entry}
                live={live}
                current={entry.conversation.id === openId}
                open={open}
              />
            ))}
          </ul>
        </>
      ) : (
        <div class="results">
          <p class="results-head" role="status">
            {hits.length} result{hits.length === 1 ? "" : "s"} for “{query.trim()}”{" "}
            <button
              type="button"
              class="quiet"
              onClick={() => {
                setHits(null);
                setQuery("");
              }}
            >
              Clear
            </button>
          </p>
          {searchProblem && (
            <p class="problem" role="alert">
              {searchProblem}
            </p>
          )}
          <ul class="conversations" aria-label="Search results">
            {hits.map((hit) => (
              <li key={hit.conversation.id}>
                <a
                  href={`/app/c/${hit.conversation.id}`}
                  class={hit.conversation.id === openId ? "item current" : "item"}
                  onClick={(e) => {
                    e.preventDefault();
                    open(hit.conversation.id);
                  }}
                >
                  <span class="line">
                    <strong>{hit.match.kind === "contact" ? hit.match.text : "Message"}</strong>
                    <span class={`status ${hit.conversation.status}`}>
                      {STATUS_NAMES[hit.conversation.status]}
                    </span>
                  </span>
                  <span class="preview">{hit.match.text}</span>
                </a>
              </li>
            ))}
          </ul>
        </div>
      )}
      <Team live={live} />
    </aside>
  );
}

function Team({ live }: { live: Live }) {
  const team = live.team();
  if (team.length === 0) return null;
  return (
    <section class="team" aria-label="Team">
      <h2>Team</h2>
      <ul>
        {team.map((member) => (
          <li key={member.id}>
            <span class={`dot ${member.status}`} aria-hidden="true" /> {member.name}
            <span class="sr-only">: {member.status}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

function Item({
  entry,
  live,
  current,
  open,
}: {
  entry: InboxEntry;
  live: Live;
  current: boolean;
  open: (id: string) => void;
}) {
  const c = entry.conversation;
  const viewing = live.viewing(c.id);
  const typing = live.typing(c.id);
  const assignee =
    c.assignee_id === null
      ? null
      : c.assignee_id === live.me.id
        ? "You"
        : (live.names.get(c.assignee_id) ?? "Assigned");
  return (
    <li>
      <a
        href={`/app/c/${c.id}`}
        class={current ? "item current" : "item"}
        aria-current={current ? "true" : undefined}
        data-conversation={c.id}
        onClick={(e) => {
          e.preventDefault();
          open(c.id);
        }}
      >
        <span class="line">
          <strong>{live.contacts.nameOf(c.contact_id) ?? entry.contactName ?? "Visitor"}</strong>
          <time dateTime={new Date(entry.activity).toISOString()}>{shortTime(entry.activity)}</time>
        </span>
        <span class="line">
          <span class="preview">
            {typing.length > 0 ? who(typing, "typing…") : entry.preview || "—"}
          </span>
          {entry.unread > 0 && (
            <span class="unread">
              <span aria-hidden="true">{entry.unread}</span>
              <span class="sr-only">{entry.unread} unread</span>
            </span>
          )}
        </span>
        <span class="line meta">
          <span class={`status ${c.status}`}>{STATUS_NAMES[c.status]}</span>
          {assignee !== null && <span>{assignee}</span>}
          {viewing.length > 0 && <span class="viewing">{who(viewing, "viewing")}</span>}
        </span>
      </a>
    </li>
  );
}
