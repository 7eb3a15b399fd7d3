// The ipqa page: a thin client of the JSON API. Everything the server sends is put into the page
// as text (textContent), except the unit view, which the server renders (escaped) as HTML.
const T = JSON.parse(document.getElementById("texts").textContent);
const LANG = document.body.dataset.lang;
const $ = (id) => document.getElementById(id);

// --- the API key: kept in this browser, sent as a bearer token -----------------------------------
const keyInput = $("api-key");
keyInput.value = localStorage.getItem("ipqa-key") || "";
keyInput.addEventListener("change", () => localStorage.setItem("ipqa-key", keyInput.value.trim()));

function headers(extra = {}) {
  const key = keyInput.value.trim();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

async function problem(response) {
  try {
    const body = await response.json();
    return body.detail || body.title || `${response.status}`;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text) node.textContent = text;
  return node;
}

// --- tabs ------------------------------------------------------------------------------------------
for (const tab of document.querySelectorAll(".tab")) {
  tab.addEventListener("click", () => {
    for (const other of document.querySelectorAll(".tab")) other.classList.toggle("active", other === tab);
    for (const name of ["ask", "search", "upload"]) $(`panel-${name}`).hidden = name !== tab.dataset.tab;
  });
}

// --- the law as of a date: the question, query and date are kept in the URL (?as_of=…), so a
// result is a link to share; the server checks the date (one rule: ipqa.in_force.parse_as_of) -------
function asOfNote(date) {
  return date ? T.law_as_of.replace("{date}", date) : T.law_today;
}

// the search filters as the URL keeps them: parameter -> the field that holds it
const FILTER_FIELDS = { jurisdiction: "filter-jurisdiction", kind: "filter-kind", law: "filter-law",
                        version_from: "filter-from", version_to: "filter-to" };

function keepInUrl(values) {
  const params = new URLSearchParams(location.search);
  for (const name of ["tab", "q", "question", "as_of", "unit", "quote", "status", ...Object.keys(FILTER_FIELDS)]) {
    params.delete(name);
  }
  for (const [name, value] of Object.entries(values)) if (value) params.set(name, value);
  history.replaceState(null, "", `${location.pathname}?${params}`);
}

// --- the unit view -----------------------------------------------------------------------------------
async function openUnit(chunkId, quote = "", status = "") {
  const params = new URLSearchParams({ lang: LANG });
  if (quote) params.set("quote", quote);
  if (status) params.set("status", status);
  $("unit").hidden = false;
  $("unit-body").textContent = T.loading;
  const response = await fetch(`/web/units/${encodeURIComponent(chunkId)}?${params}`, { headers: headers() });
  if (!response.ok) {
    $("unit-body").textContent = `${T.error}: ${await problem(response)}`;
    return;
  }
  $("unit-body").innerHTML = await response.text(); // rendered and escaped by the server
  const marked = document.getElementById("quoted");
  if (marked) marked.scrollIntoView({ block: "center" });
}

$("unit-body").addEventListener("click", (event) => {
  const link = event.target.closest("[data-unit]");
  if (link) openUnit(link.dataset.unit);
});
$("close-unit").addEventListener("click", () => { $("unit").hidden = true; });

function statusOf(citation) {
  if (citation.verified) return "verified";
  return citation.problem === "unresolved" ? "unresolvable" : "unsupported";
}

// --- asking: a conversation thread, answers streamed ---------------------------------------------------
let conversationId = null;

$("new-conversation").addEventListener("click", () => {
  conversationId = null;
  $("thread").replaceChildren();
});

async function ensureConversation() {
  if (conversationId) return conversationId;
  const response = await fetch("/v1/conversations", { method: "POST", headers: headers() });
  if (!response.ok) throw new Error(await problem(response));
  conversationId = (await response.json()).id;
  return conversationId;
}

// The answer text with each [n] a link to the cited unit.
function renderAnswer(container, text, citations) {
  const byNumber = new Map(citations.map((c) => [c.number, c]));
  container.replaceChildren();
  let last = 0;
  for (const match of text.matchAll(/\[(\d+)\]/g)) {
    container.append(text.slice(last, match.index));
    const citation = byNumber.get(Number(match[1]));
    if (citation && citation.chunk_id) {
      const status = statusOf(citation);
      const link = element("a", { href: "#", class: `cite status-${status}`, "data-n": match[1],
                                  title: `${citation.citation} — ${T[status]}` }, match[0]);
      link.addEventListener("click", (event) => {
        event.preventDefault();
        openUnit(citation.chunk_id, citation.quoted_span, status);
      });
      container.append(link);
    } else {
      container.append(match[0]);
    }
    last = match.index + match[0].length;
  }
  container.append(text.slice(last));
}

function renderCitations(list, citations) {
  list.replaceChildren();
  for (const citation of citations) {
    const status = statusOf(citation);
    const item = element("li", { class: `status-${status}` });
    item.append(element("span", { class: "n" }, `[${citation.number}] `), citation.citation, " — ",
                element("strong", { class: "badge" }, T[status]));
    // the cited law version is not the one in force today: say so, naming the current article
    if (citation.note) item.append(element("p", { class: "superseded-note" }, citation.note));
    list.append(item);
  }
}

async function* sseEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of frame.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      }
      yield { name, data: JSON.parse(data.join("\n")) };
    }
  }
}

$("ask-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question) return;
  const turn = element("article", { class: "turn" });
  turn.append(element("p", { class: "asked" }, question));
  const asOf = $("ask-as-of").value;
  const lawNote = element("p", { class: "as-of-note" }, asOfNote(asOf));
  const understood = element("p", { class: "understood muted", hidden: "" });
  const answer = element("div", { class: "answer streaming", "data-tokens": "0" }, T.answering);
  const note = element("p", { class: "abstained", hidden: "" });
  const citations = element("ol", { class: "citations" });
  turn.append(lawNote, understood, answer, note, citations);
  // the first question of a conversation is the link to share (a follow-up alone means little)
  if (!$("thread").children.length) keepInUrl({ tab: "ask", question, as_of: asOf });
  else keepInUrl({ tab: "ask", question: new URLSearchParams(location.search).get("question"), as_of: asOf });
  $("thread").append(turn);
  $("ask-button").disabled = true;
  try {
    const body = { question, stream: true, conversation_id: await ensureConversation() };
    if ($("question-type").value) body.type = $("question-type").value;
    if (asOf) body.as_of = asOf;
    const response = await fetch("/v1/ask", {
      method: "POST", headers: headers({ "Content-Type": "application/json" }), body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(await problem(response));
    let text = "";
    for await (const { name, data } of sseEvents(response)) {
      if (name === "token") {
        text += data.text;
        answer.textContent = text;
        answer.dataset.tokens = String(Number(answer.dataset.tokens) + 1);
      } else if (name === "answer") {
        renderAnswer(answer, data.answer, data.citations);
        renderCitations(citations, data.citations);
        if (data.standalone_question) {
          understood.textContent = `${T.understood_as}: ${data.standalone_question}`;
          understood.hidden = false;
        }
        if (data.abstained) {
          note.textContent = `${T.abstained}: ${data.abstain_reason}`;
          note.hidden = false;
        }
        answer.classList.remove("streaming");
        answer.classList.add("done");
      } else if (name === "error") {
        throw new Error(data.detail);
      }
    }
    $("question").value = "";
  } catch (error) {
    answer.classList.remove("streaming");
    answer.classList.add("failed");
    answer.textContent = `${T.error}: ${error.message}`;
  } finally {
    $("ask-button").disabled = false;
  }
});

// --- search with filters ---------------------------------------------------------------------------
$("search-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const filters = {};
  if ($("filter-jurisdiction").value) filters.jurisdictions = [$("filter-jurisdiction").value];
  if ($("filter-kind").value) filters.kinds = [$("filter-kind").value];
  if ($("filter-law").value.trim()) filters.titles = [$("filter-law").value.trim()];
  if ($("filter-from").value) filters.version_from = $("filter-from").value;
  if ($("filter-to").value) filters.version_to = $("filter-to").value;
  const body = { query: $("query").value.trim(), k: 20 };
  if (Object.keys(filters).length) body.filters = filters;
  const asOf = $("search-as-of").value;
  if (asOf) body.as_of = asOf;
  const filterValues = Object.fromEntries(Object.entries(FILTER_FIELDS).map(([name, id]) => [name, $(id).value.trim()]));
  keepInUrl({ tab: "search", q: body.query, as_of: asOf, ...filterValues });
  $("search-as-of-note").textContent = "";
  $("hits").replaceChildren();
  $("search-summary").textContent = T.loading;
  const response = await fetch("/v1/search", {
    method: "POST", headers: headers({ "Content-Type": "application/json" }), body: JSON.stringify(body),
  });
  if (!response.ok) {
    $("search-summary").textContent = `${T.error}: ${await problem(response)}`;
    return;
  }
  const result = await response.json();
  $("search-summary").textContent = result.hits.length ? `${result.hits.length} ${T.hits}` : T.no_hits;
  $("search-as-of-note").textContent = asOfNote(asOf);
  for (const hit of result.hits) {
    const document_ = result.documents[hit.document_id] || {};
    const item = element("li", { class: "hit", "data-chunk-id": hit.chunk_id });
    const title = element("a", { href: "#", class: "hit-citation" }, hit.citation);
    title.addEventListener("click", (e) => { e.preventDefault(); openUnit(hit.chunk_id); });
    const meta = [document_.jurisdiction, document_.kind, document_.title, document_.version].filter(Boolean).join(" · ");
    item.append(title, element("p", { class: "muted hit-meta" }, meta),
                element("p", { class: "hit-text" }, hit.text.length > 300 ? `${hit.text.slice(0, 300)}…` : hit.text));
    $("hits").append(item);
  }
});

// The law filter suggests the index's statute titles (the first 500; any exact title is accepted).
async function loadLawTitles() {
  const response = await fetch("/v1/documents?kind=statute&limit=500", { headers: headers() });
  if (!response.ok) return; // no key yet, or no index: the field still takes a typed title
  const titles = new Set((await response.json()).items.map((d) => d.title));
  $("law-titles").replaceChildren(...[...titles].sort().map((title) => element("option", { value: title })));
}
loadLawTitles();
keyInput.addEventListener("change", loadLawTitles);

// --- upload, with the job's progress ----------------------------------------------------------------
$("upload-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData();
  for (const file of $("upload-files").files) form.append("files", file);
  $("upload-status").textContent = T.loading;
  const response = await fetch("/v1/documents", { method: "POST", headers: headers(), body: form });
  if (!response.ok) {
    $("upload-status").textContent = `${T.error}: ${await problem(response)}`;
    return;
  }
  const accepted = await response.json();
  const progress = $("upload-progress");
  progress.hidden = false;
  for (;;) {
    const job = await (await fetch(accepted.href, { headers: headers() })).json();
    const done = job.progress && job.progress.done, total = job.progress && job.progress.total;
    if (total) { progress.max = total; progress.value = done || 0; } else { progress.removeAttribute("value"); }
    $("upload-status").textContent = `${T.job} ${job.id}: ${job.state}${job.stage ? ` (${job.stage})` : ""}` +
      (job.error ? ` — ${job.error}` : "");
    if (!["queued", "running"].includes(job.state)) break;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  progress.hidden = true;
});

// --- a link to a unit (?unit=…&quote=…&status=…), as the chat endpoint's citations give, or to a
// result (?tab=search&q=…&as_of=…, ?question=…&as_of=…), as the forms keep it ------------------------
const linked = new URLSearchParams(location.search);
if (linked.get("unit")) openUnit(linked.get("unit"), linked.get("quote") || "", linked.get("status") || "");
if (linked.get("tab") === "search") document.getElementById("tab-search").click();
if (!document.body.dataset.asOfError) { // a date the server refused is said on the page; nothing is run
  if (linked.get("tab") === "search" && linked.get("q")) {
    $("query").value = linked.get("q");
    for (const [name, id] of Object.entries(FILTER_FIELDS)) if (linked.get(name)) $(id).value = linked.get(name);
    $("search-form").requestSubmit();
  } else if (linked.get("question")) {
    // filled, not asked: answering spends the generator (and the viewer's key), so a link never
    // does it without a click
    $("question").value = linked.get("question");
    $("question").focus();
  }
}
