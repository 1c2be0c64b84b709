// Ask: a streamed answer from /v1/query per question, its sources, and the citation view that shows
// the quote behind each [n] highlighted in its passage and, for PDFs, outlined on the page image.

import { blob, call, path, stream } from "./api.js";
import { $, el, errorNode, instructionsFlag, webLink } from "./dom.js";

const REASONS = {
  no_relevant_sources: "the documents do not talk about this",
  no_answer_in_sources: "the closest sources do not answer this question",
  unsupported_answer: "the sources did not support the answer the model wrote",
};
const MODES = { extract: "quoted from the sources", generate: "written by the model, checked against the sources" };

let pageImageUrl = null; // the object URL of the page image on show, freed when the next one comes

/** Wire the question form; `collection()` names the current collection, `onError` sees every failure. */
export function wireAsk(collection, onError) {
  const form = $("#ask-form");
  const question = $("#ask-question");
  question.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = question.value.trim();
    if (!text) return;
    question.value = "";
    $("#ask-button").disabled = true;
    try {
      await ask(text, collection(), onError);
    } finally {
      $("#ask-button").disabled = false;
      question.focus();
    }
  });
  $("#citation-dialog").addEventListener("close", () => {
    if (pageImageUrl) URL.revokeObjectURL(pageImageUrl);
    pageImageUrl = null;
  });
}

export function clearTurns() {
  $("#turns").replaceChildren();
}

async function ask(question, collection, onError) {
  const turn = { collection, answer: "", sources: [], related: [], citations: [], abstained: false };
  const answer = el("div", { class: "answer", "aria-busy": "true" }, el("span", { class: "muted" }, "Searching…"));
  const sources = el("div", { class: "sources-panel" });
  const footer = el("p", { class: "muted answer-note" });
  const node = el("article", { class: "turn" }, el("p", { class: "question" }, question), answer, footer, sources);
  $("#turns").append(node);
  node.scrollIntoView({ block: "nearest" });
  try {
    for await (const event of stream("/v1/query", { question, collection })) {
      if (event.type === "sources") {
        turn.id = event.id;
        turn.sources = event.sources;
        renderSources(sources, turn, turn.sources, "Sources");
      } else if (event.type === "delta") {
        turn.answer += event.text;
        renderAnswer(answer, turn);
      } else if (event.type === "citations") {
        Object.assign(turn, event);
        finish(node, answer, sources, footer, turn);
        footer.after(feedbackBar(turn.id));
      } else if (event.type === "error") {
        answer.append(errorNode({ status: event.error.code, ...event.error }));
      }
    }
  } catch (error) {
    answer.replaceChildren(errorNode(error));
    onError(error);
  } finally {
    answer.setAttribute("aria-busy", "false");
  }
}

function finish(node, answer, sources, footer, turn) {
  if (turn.abstained) {
    node.classList.add("abstained");
    const reason = REASONS[turn.abstain_reason] || turn.abstain_reason || "no supported answer";
    answer.replaceChildren(el("strong", {}, "No answer: "), `${reason}. `, el("span", {}, turn.answer));
    if (turn.related.length) renderSources(sources, turn, turn.related, "Closest passages");
    else sources.replaceChildren();
    footer.textContent = "";
    return;
  }
  renderAnswer(answer, turn);
  const grounded = turn.grounded === null ? "" : `; ${Math.round(turn.grounded * 100)}% of its sentences supported`;
  footer.textContent = `${MODES[turn.mode] || turn.mode}${grounded}.`;
}

/** Thumbs up or down on an answer (POST /v1/answers/{id}/feedback); down asks what was wrong and which
 *  source it should have cited, both optional. */
function feedbackBar(answerId) {
  const status = el("span", { class: "muted feedback-status", role: "status" });
  const comment = el("input", { type: "text", class: "feedback-comment", placeholder: "What was wrong? (optional)" });
  const source = el("input", { type: "text", class: "feedback-source", placeholder: "Source it should cite (optional)" });
  const details = el("form", { class: "feedback-details", hidden: true }, comment, source, el("button", { type: "submit" }, "Send"));
  const send = async (body) => {
    try {
      await call("POST", `/v1/answers/${encodeURIComponent(answerId)}/feedback`, body);
      status.textContent = "Thanks for the feedback.";
    } catch (error) {
      status.replaceChildren(errorNode(error));
    }
  };
  const up = el("button", { type: "button", class: "thumb", "aria-label": "Good answer", title: "Good answer" }, "👍");
  const down = el("button", { type: "button", class: "thumb", "aria-label": "Bad answer", title: "Bad answer" }, "👎");
  up.addEventListener("click", () => {
    details.hidden = true;
    send({ rating: "up" });
  });
  down.addEventListener("click", () => {
    details.hidden = false;
    comment.focus();
    send({ rating: "down" });
  });
  details.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { rating: "down" };
    if (comment.value.trim()) body.comment = comment.value.trim();
    if (source.value.trim()) body.source = source.value.trim();
    send(body);
    details.hidden = true;
  });
  return el("div", { class: "feedback" }, up, down, status, details);
}

/** The answer text with each [n] as a button that opens the citation view. */
function renderAnswer(node, turn) {
  const parts = [];
  let last = 0;
  for (const match of turn.answer.matchAll(/\[(\d+)\]/g)) {
    const n = Number(match[1]);
    const source = turn.sources.find((s) => s.n === n);
    if (!source) continue;
    parts.push(turn.answer.slice(last, match.index));
    const offset = match.index;
    parts.push(
      el(
        "button",
        { type: "button", class: "cite", "aria-label": `Citation ${n}: ${source.filename}`, onclick: () => openCitation(turn, source, offset) },
        `[${n}]`,
      ),
    );
    last = match.index + match[0].length;
  }
  parts.push(turn.answer.slice(last));
  node.replaceChildren(...parts);
}

function renderSources(node, turn, list, title) {
  const items = list.map((source) =>
    el(
      "li",
      {},
      el(
        "button",
        { type: "button", class: "link", onclick: () => openCitation(turn, source, null) },
        `[${source.n}] ${source.filename}`,
      ),
      source.page ? ` · page ${source.page}` : "",
      source.section ? ` · ${source.section}` : "",
      source.origin && webLink(source.origin) ? [" · ", webLink(source.origin, "open the original")] : "",
      el("span", { class: "muted" }, ` · score ${source.score.toFixed(3)}`),
      instructionsFlag(source),
    ),
  );
  node.replaceChildren(el("h4", {}, title), el("ol", { class: "sources" }, items));
}

/** The citation of source n that covers the marker at `offset` in the answer (else the nearest one). */
function citationAt(turn, n, offset) {
  const candidates = turn.citations.filter((c) => c.n === n);
  if (!candidates.length) return null;
  if (offset === null) return candidates[0];
  const distance = (c) => (offset < c.start ? c.start - offset : offset > c.end ? offset - c.end : 0);
  return candidates.reduce((best, c) => (distance(c) < distance(best) ? c : best));
}

/** The citation view of `source`; `offset` is where its [n] marker sits in the answer (null: from the list). */
async function openCitation(turn, source, offset) {
  const n = source.n;
  const citation = turn.abstained ? null : citationAt(turn, n, offset);
  const dialog = $("#citation-dialog");
  $("#citation-title").textContent =
    `[${n}] ${source.filename}${source.page ? `, page ${source.page}` : ""}${source.section ? ` · ${source.section}` : ""}`;
  $("#citation-note").textContent = citation
    ? `Supports: “${turn.answer.slice(citation.start, citation.end).trim()}” (support ${citation.score.toFixed(2)})`
    : "The passage this source comes from:";
  const text = $("#citation-text");
  if (citation) {
    const { quote_start: start, quote_end: end } = citation;
    text.replaceChildren(source.text.slice(0, start), el("mark", {}, source.text.slice(start, end)), source.text.slice(end));
  } else {
    text.replaceChildren(source.text);
  }
  dialog.showModal();
  // Scroll the passage (not the dialog) to the quote, so the title and the page image stay in view.
  const mark = text.querySelector("mark");
  text.scrollTop = mark ? Math.max(0, mark.offsetTop - text.clientHeight / 3) : 0;
  await showPage(turn.collection, source, citation);
}

async function showPage(collection, source, citation) {
  const figure = $("#citation-figure");
  const image = $("#citation-image");
  figure.querySelector(".error")?.remove();
  // PDFs and images (scans read by OCR) have page images; the server outlines the quote on either.
  const paged = source.page && /\.(pdf|png|jpe?g|tiff?)$/i.test(source.filename);
  figure.hidden = !paged;
  image.removeAttribute("src");
  if (!paged) return;
  const query = new URLSearchParams({ width: "900" });
  if (citation) query.set("highlight", citation.quote);
  $("#citation-caption").textContent = `Page ${source.page} of ${source.filename}${citation ? ", the quote outlined" : ""} (loading…)`;
  try {
    const png = await blob(`${path.document(collection, source.document_id)}/pages/${source.page}.png?${query}`);
    if (pageImageUrl) URL.revokeObjectURL(pageImageUrl);
    pageImageUrl = URL.createObjectURL(png);
    image.src = pageImageUrl;
    image.alt = `Page ${source.page} of ${source.filename}`;
    $("#citation-caption").textContent = `Page ${source.page} of ${source.filename}${citation ? ", the quote outlined" : ""}`;
  } catch (error) {
    $("#citation-caption").textContent = "";
    figure.append(errorNode(error));
  }
}
