// The page's start: the API key, the collections, the chosen collection's documents; the other
// modules (ask.js, upload.js, docview.js) do one part each.

import { apiKey, call, path } from "./api.js";
import { clearTurns, wireAsk } from "./ask.js";
import { openDocument, wireDocumentView } from "./docview.js";
import { $, el, errorNode, formatBytes, formatDate, wireDialogs } from "./dom.js";
import { loadInsights, wireInsights } from "./insights.js";
import { loadSources } from "./sources.js";
import { wireUpload } from "./upload.js";

const DOCUMENTS_PER_PAGE = 20;
const state = { collection: localStorage.getItem("rag.collection"), documentsOffset: 0 };

/** Every failure passes here; a 401 means the key is missing or wrong, which the banner says. */
function onError(error) {
  if (error.status !== 401) return;
  const text = apiKey.get()
    ? `The server refused this API key (401: ${error.message}). Enter a valid key above and save it.`
    : `This server needs an API key (401: ${error.message}). Enter it above and save it.`;
  const banner = $("#banner");
  banner.textContent = text;
  banner.hidden = false;
  $("#api-key").focus();
}

function wireKey() {
  $("#api-key").value = apiKey.get();
  $("#key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    apiKey.set($("#api-key").value.trim());
    loadCollections();
  });
  $("#key-forget").addEventListener("click", () => {
    apiKey.set("");
    $("#api-key").value = "";
    loadCollections();
  });
}

async function loadCollections() {
  const list = $("#collection-list");
  try {
    const { collections } = await call("GET", "/v1/collections");
    $("#banner").hidden = true;
    list.replaceChildren(...collections.map(collectionItem));
    if (!collections.length) list.append(el("li", { class: "muted" }, "None yet: create one below."));
    if (!collections.some((c) => c.name === state.collection)) state.collection = null;
    markChosen();
    if (state.collection && $("#workspace").hidden) openCollection(state.collection);
    if (!state.collection) $("#workspace").hidden = true;
  } catch (error) {
    list.replaceChildren(el("li", {}, errorNode(error)));
    $("#workspace").hidden = true;
    onError(error);
  }
}

function collectionItem(collection) {
  const counts = `${collection.documents} documents · ${collection.chunks} chunks`;
  return el(
    "li",
    { "data-collection": collection.name },
    el(
      "button",
      { type: "button", class: "choose", onclick: () => openCollection(collection.name, true) },
      el("span", { class: "name" }, collection.name),
      el("span", { class: "muted" }, counts),
    ),
    el(
      "button",
      { type: "button", class: "danger", "aria-label": `Delete collection ${collection.name}`, onclick: () => deleteCollection(collection) },
      "Delete",
    ),
  );
}

function markChosen() {
  for (const item of document.querySelectorAll("#collection-list li[data-collection]")) {
    const chosen = item.dataset.collection === state.collection;
    item.classList.toggle("chosen", chosen);
    item.querySelector(".choose").setAttribute("aria-current", chosen ? "true" : "false");
  }
}

function openCollection(name, moveFocus = false) {
  if (name !== $("#workspace-title").dataset.name) clearTurns();
  state.collection = name;
  state.documentsOffset = 0;
  localStorage.setItem("rag.collection", name);
  $("#workspace").hidden = false;
  $("#workspace-title").textContent = `Collection: ${name}`;
  $("#workspace-title").dataset.name = name;
  markChosen();
  loadDocuments(0);
  loadSources(name);
  loadInsights(name);
  if (moveFocus) $("#workspace-title").focus();
}

async function deleteCollection(collection) {
  const question = `Delete the collection "${collection.name}" and its ${collection.documents} documents? This cannot be undone.`;
  if (!confirm(question)) return;
  try {
    await call("DELETE", path.collection(collection.name));
  } catch (error) {
    showFormError($("#collection-form"), error);
  }
  loadCollections();
}

function showFormError(form, error) {
  form.querySelector(".error")?.remove();
  if (error) form.append(errorNode(error));
  if (error) onError(error);
}

function wireCollectionForm() {
  const form = $("#collection-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = $("#collection-name").value.trim();
    try {
      await call("POST", "/v1/collections", { name, description: $("#collection-description").value.trim() });
      showFormError(form, null);
      form.reset();
      state.collection = name;
      $("#workspace").hidden = true; // reopened on the new collection by loadCollections
      await loadCollections();
    } catch (error) {
      showFormError(form, error);
    }
  });
}

async function loadDocuments(offset) {
  const name = state.collection;
  const body = $("#documents-table").tBodies[0];
  try {
    const page = await call("GET", `${path.documents(name)}?limit=${DOCUMENTS_PER_PAGE}&offset=${offset}`);
    if (name !== state.collection) return; // another collection was chosen meanwhile
    state.documentsOffset = offset;
    body.replaceChildren(...page.documents.map((doc) => documentRow(name, doc)));
    $("#documents-empty").hidden = page.total > 0;
    const last = offset + page.documents.length;
    $("#documents-range").textContent = page.total ? `${offset + 1}-${last} of ${page.total}` : "";
    $("#documents-prev").disabled = offset === 0;
    $("#documents-next").disabled = last >= page.total;
  } catch (error) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: "6" }, errorNode(error))));
    onError(error);
  }
}

function documentRow(collection, doc) {
  const view = () => openDocument(collection, doc, onError);
  return el(
    "tr",
    { "data-document-id": doc.document_id },
    el("td", {}, el("button", { type: "button", class: "link", onclick: view, title: doc.document_id }, doc.filename)),
    el("td", {}, doc.pages ?? "–"),
    el("td", {}, doc.chunk_count),
    el("td", {}, formatBytes(doc.size)),
    el("td", {}, formatDate(doc.updated_at)),
    el(
      "td",
      { class: "actions" },
      el("button", { type: "button", class: "danger", "aria-label": `Delete ${doc.document_id}`, onclick: () => deleteDocument(collection, doc) }, "Delete"),
    ),
  );
}

async function deleteDocument(collection, doc) {
  if (!confirm(`Delete "${doc.document_id}" from ${collection}?`)) return;
  try {
    await call("DELETE", path.document(collection, doc.document_id));
  } catch (error) {
    $("#documents-table").before(errorNode(error));
    onError(error);
  }
  refresh();
}

function refresh() {
  loadCollections();
  if (state.collection) {
    loadDocuments(state.documentsOffset);
    loadSources(state.collection);
    loadInsights(state.collection);
  }
}

/** The skip link goes to the question box, or to the new-collection form while none is chosen. */
function wireSkipLink() {
  $(".skip").addEventListener("click", (event) => {
    event.preventDefault();
    ($("#workspace").hidden ? $("#collection-name") : $("#ask-question")).focus();
  });
}

function start() {
  wireDialogs();
  wireSkipLink();
  wireKey();
  wireCollectionForm();
  wireAsk(() => state.collection, onError);
  wireUpload(() => state.collection, refresh, onError);
  wireDocumentView(onError);
  wireInsights(() => state.collection);
  $("#documents-prev").addEventListener("click", () => loadDocuments(Math.max(0, state.documentsOffset - DOCUMENTS_PER_PAGE)));
  $("#documents-next").addEventListener("click", () => loadDocuments(state.documentsOffset + DOCUMENTS_PER_PAGE));
  loadCollections().then(() => {
    document.body.dataset.ready = "true";
    performance.mark("rag-ready"); // benchmarks/web_page.py: time to an interactive page
  });
}

start();
