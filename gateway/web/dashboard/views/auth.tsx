/** The pages before a session: sign in, accept an invitation, reset a password. */

import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import type { Api, Me } from "../api.js";
import { problemText } from "./common.js";

function Card({ title, children }: { title: string; children: ComponentChildren }) {
  return (
    <main class="auth">
      <div class="auth-card">
        <p class="brand" aria-hidden="true">
          chatgate
        </p>
        <h1>{title}</h1>
        {children}
      </div>
    </main>
  );
}

function useSubmit(run: () => Promise<void>): [boolean, string | null, (e: Event) => void] {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = (event: Event): void => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    run().then(
      () => setBusy(false),
      (problem: unknown) => {
        setBusy(false);
        setError(problemText(problem));
      },
    );
  };
  return [busy, error, submit];
}

function Problem({ text }: { text: string | null }) {
  return text === null ? null : (
    <p class="problem" role="alert">
      {text}
    </p>
  );
}

export function SignIn({ api, done }: { api: Api; done: (me: Me) => void }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, error, submit] = useSubmit(async () => done(await api.signIn(email, password)));
  return (
    <Card title="Sign in">
      <form onSubmit={submit}>
        <label for="email">Email</label>
        <input
          id="email"
          type="email"
          autocomplete="username"
          required
          value={email}
          onInput={(e) => setEmail(e.currentTarget.value)}
        />
        <label for="password">Password</label>
        <input
          id="password"
          type="password"
          autocomplete="current-password"
          required
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
        <Problem text={error} />
        <button class="primary" type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
      <p class="hint">Forgot your password? Ask an admin for a reset link.</p>
    </Card>
  );
}

function PasswordForm(props: {
  api: Api;
  title: string;
  token: string;
  askName: boolean;
  action: string;
  run: (name: string, password: string) => Promise<unknown>;
  done: (me: Me) => void;
}) {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [repeat, setRepeat] = useState("");
  const [finished, setFinished] = useState(false);
  const [busy, error, submit] = useSubmit(async () => {
    if (password !== repeat) throw new Error("The two passwords differ.");
    const agent = (await props.run(name, password)) as { email?: unknown } | null;
    // The link set the password; signing in with it is what the agent came for.
    if (typeof agent?.email === "string" && agent.email !== "") {
      props.done(await props.api.signIn(agent.email, password));
      return;
    }
    const me = await props.api.me();
    if (me !== null) props.done(me);
    else setFinished(true);
  });
  if (props.token === "") {
    return (
      <Card title={props.title}>
        <p class="problem" role="alert">
          This link is incomplete: open the whole link you were given.
        </p>
      </Card>
    );
  }
  if (finished) {
    return (
      <Card title={props.title}>
        <p role="status">Your password is set.</p>
        <a class="button primary" href="/app/sign-in">
          Sign in
        </a>
      </Card>
    );
  }
  return (
    <Card title={props.title}>
      <form onSubmit={submit}>
        {props.askName && (
          <>
            <label for="name">Your name</label>
            <input
              id="name"
              autocomplete="name"
              required
              value={name}
              onInput={(e) => setName(e.currentTarget.value)}
            />
          </>
        )}
        <label for="new-password">New password (10 characters or more)</label>
        <input
          id="new-password"
          type="password"
          autocomplete="new-password"
          required
          minLength={10}
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
        <label for="repeat-password">Repeat the password</label>
        <input
          id="repeat-password"
          type="password"
          autocomplete="new-password"
          required
          value={repeat}
          onInput={(e) => setRepeat(e.currentTarget.value)}
        />
        <Problem text={error} />
        <button class="primary" type="submit" disabled={busy}>
          {props.action}
        </button>
      </form>
    </Card>
  );
}

export function AcceptInvitation(props: { api: Api; token: string; done: (me: Me) => void }) {
  return (
    <PasswordForm
      {...props}
      title="Join your team"
      askName={true}
      action="Set password and join"
      run={(name, password) => props.api.acceptInvitation(props.token, name, password)}
    />
  );
}

export function ResetPassword(props: { api: Api; token: string; done: (me: Me) => void }) {
  return (
    <PasswordForm
      {...props}
      title="Choose a new password"
      askName={false}
      action="Set password"
      run={(_name, password) => props.api.resetPassword(props.token, password)}
    />
  );
}
