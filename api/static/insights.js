// The chosen collection's insights (GET /v1/collections/{name}/insights): questions asked, the share answered,
// why answers abstained, the unanswered questions grouped by topic (the documents to write), the answers voted
// down and the documents no answer cited. A reader's key may not see other users' questions: it gets a note.

import { call, path } from "./api.js";
import { $, el, errorNode, formatDate } from "./dom.js";

const REASONS = {
  no_relevant_sources: "no relevant sources",
  no_answer_in_sources: "no answer in the sources",
  unsupported_answer: "the answer was not supported",
};

function figure(label, value) {
  return el("div", { class: "figure" }, el("dt", {}, label), el("dd", {}, String(value)));
}

function counts(found) {
  const share = `${Math.round(found.answered_share * 100)}%`;
  return el(
    "dl",
    { class: "figures", id: "insights-counts" },
    figure("Questions", found.questions),
    figure("Answered", `${found.answered} (${share})`),
    figure("Abstained", found.abstained),
    figure("Votes up / down", `${found.ratings.up} / ${found.ratings.down}`),
  );
}

function reasons(found) {
  const entries = Object.entries(found.abstained_by_reason);
  if (!entries.length) return null;
  return el(
    "div",
    {},
    el("h4", {}, "Why answers abstained"),
    el("ul", { id: "insights-reasons" }, entries.map(([reason, n]) => el("li", {}, `${REASONS[reason] || reason}: ${n}`))),
  );
}

function topics(found) {
  const list = found.unanswered_topics.map((topic) =>
    el(
      "li",
      {},
      el("strong", {}, `${topic.count} question${topic.count === 1 ? "" : "s"}`),
      el("ul", {}, topic.examples.map((example) => el("li", {}, example))),
    ),
  );
  return el(
    "div",
    {},
    el("h4", {}, "Unanswered questions, by topic"),
    list.length
      ? el("ol", { id: "insights-topics", class: "topics" }, list)
      : el("p", { class: "muted" }, "None: every question of the period was answered."),
  );
}

function downVoted(found) {
  if (!found.down_voted.length) return null;
  const rows = found.down_voted.map((vote) =>
    el(
      "li",
      {},
      el("span", { class: "question" }, vote.question || "(question not kept)"),
      vote.comment ? el("div", {}, `“${vote.comment}”`) : null,
      vote.source ? el("div", { class: "muted" }, `should have cited ${vote.source}`) : null,
      el("div", { class: "muted" }, formatDate(vote.at)),
    ),
  );
  return el("div", {}, el("h4", {}, "Answers voted down"), el("ul", { id: "insights-down" }, rows));
}

function neverCited(found) {
  const heading = el("h4", {}, "Documents no answer cited");
  if (found.never_cited === null) return el("div", {}, heading, el("p", { class: "muted" }, "Unknown: questions are not kept."));
  if (!found.never_cited.length) return el("div", {}, heading, el("p", { class: "muted" }, "None: every document was cited."));
  const items = found.never_cited.map((d) => el("li", { "data-document-id": d.document_id }, d.filename));
  return el("div", {}, heading, el("ul", { id: "insights-uncited", class: "uncited" }, items));
}

/** Show the insights of `collection` for the number of days in the panel's field. */
export async function loadInsights(collection) {
  const out = $("#insights-body");
  const days = Math.max(1, Number($("#insights-days").value) || 30);
  try {
    const found = await call("GET", `${path.collection(collection)}/insights?days=${days}`);
    const parts = [
      el("p", { class: "muted" }, `Since ${formatDate(found.since)}.`),
      counts(found),
      reasons(found),
      topics(found),
      downVoted(found),
      neverCited(found),
      ...found.notes.map((note) => el("p", { class: "muted" }, note)),
    ];
    out.replaceChildren(...parts.filter((part) => part !== null));
  } catch (error) {
    const forbidden = error.status === 403;
    out.replaceChildren(
      forbidden ? el("p", { class: "muted" }, "Insights show other users' questions: they need a writer's key.") : errorNode(error),
    );
  }
}

/** The period field and its button reload the chosen collection's insights. */
export function wireInsights(collection) {
  $("#insights-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (collection()) loadInsights(collection());
  });
}
