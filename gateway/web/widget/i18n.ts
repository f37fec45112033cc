/**
 * The widget's words, one table per language (docs/widget.md#languages). The texts an org
 * wrote in its widget's settings (title, greeting, launcher text) override the defaults.
 */

export type Language = "en" | "fr";

const en = {
  open: "Open chat",
  close: "Close chat",
  title: "Chat with us",
  greeting: "Hi! How can we help you today?",
  launcher: "Chat",
  messages: "Messages",
  message: "Message",
  send: "Send",
  attach: "Attach an image",
  uploading: "Uploading",
  human: "Talk to a person",
  humanRequested: "We have asked a team member to join. They will answer here.",
  typing: "Someone is typing…",
  offline: "You are offline. Your messages will be sent when the connection is back.",
  unavailable: "This chat is not available here.",
  failed: "Something went wrong. Please try again later.",
  you: "You",
  bot: "Bot",
  agent: "Agent",
  system: "System",
  read: "Read",
  sending: "Sending…",
  notSent: "Not sent",
  closed: "This conversation has ended.",
  unread: (n: number) => (n === 1 ? "1 unread message" : `${n} unread messages`),
};

export type Strings = typeof en;

const fr: Strings = {
  open: "Ouvrir la discussion",
  close: "Fermer la discussion",
  title: "Discutons",
  greeting: "Bonjour ! Comment pouvons-nous vous aider ?",
  launcher: "Discuter",
  messages: "Messages",
  message: "Message",
  send: "Envoyer",
  attach: "Joindre une image",
  uploading: "Envoi en cours",
  human: "Parler à une personne",
  humanRequested: "Nous avons demandé à un membre de l'équipe de vous rejoindre. Il répondra ici.",
  typing: "Quelqu'un écrit…",
  offline: "Vous êtes hors ligne. Vos messages partiront dès le retour de la connexion.",
  unavailable: "Cette discussion n'est pas disponible ici.",
  failed: "Un problème est survenu. Veuillez réessayer plus tard.",
  you: "Vous",
  bot: "Bot",
  agent: "Agent",
  system: "Système",
  read: "Lu",
  sending: "Envoi…",
  notSent: "Non envoyé",
  closed: "Cette discussion est terminée.",
  unread: (n: number) => (n === 1 ? "1 message non lu" : `${n} messages non lus`),
};

const TABLES: Record<Language, Strings> = { en, fr };

/** The texts of a widget's settings that replace the defaults (plain text, never HTML). */
export interface TextOverrides {
  title?: string | null;
  greeting?: string | null;
  launcher_text?: string | null;
}

/** The table for `language` (English for anything unknown), with the org's own texts. */
export function strings(language: string | null | undefined, texts: TextOverrides = {}): Strings {
  const base = TABLES[language === "fr" ? "fr" : "en"];
  return {
    ...base,
    title: texts.title ?? base.title,
    greeting: texts.greeting ?? base.greeting,
    launcher: texts.launcher_text ?? base.launcher,
  };
}
