// Small DOM helpers shared by the page's modules. Text always goes in as text (never as HTML), so
// nothing a document or an answer contains can run in the page.

export const $ = (selector) => document.querySelector(selector);

/** el("button", {class: "x", onclick: f}, "text", childNode) */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

/** A link that opens `url` in a new tab when it is a web address (a synced page's origin); else null, so a
 * path or an s3:// URI stays text. */
export function webLink(url, text = url) {
  return /^https?:\/\//i.test(url || "") ? el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, text) : null;
}

/** An error as the page shows it everywhere: the message, and the trace id to quote in a bug report. */
export function errorNode(error) {
  return el(
    "div",
    { class: "error", role: "alert" },
    el("strong", {}, error.status ? `Error ${error.status}: ` : "Error: "),
    error.message,
    error.traceId ? el("span", { class: "trace" }, ` (trace id ${error.traceId})`) : null,
  );
}

export function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function formatDate(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** Close buttons of every <dialog> (Escape closes them natively). */
export function wireDialogs() {
  for (const button of document.querySelectorAll("dialog [data-close]")) {
    button.addEventListener("click", () => button.closest("dialog").close());
  }
}

/** A marker on a passage that addresses an AI or gives it orders: answers do not use it. */
export function instructionsFlag(passage) {
  if (!passage.instructions) return "";
  const why = passage.instructions_reason ? ` (${passage.instructions_reason})` : "";
  return el("span", { class: "flag", title: `This passage gives orders to an AI${why}: answers do not use it.` }, " ⚠ gives instructions");
}
