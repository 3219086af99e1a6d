// Sapient web chat: streams answers from this server's /v1/chat/completions.
// Model and tool text is untrusted: it only ever becomes text nodes (textContent),
// never markup. The conversation lives in a server-side session (X-Sapient-Session).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { session: newSessionId(), key: sessionStorage.getItem("sapient.key") || "",
                model: "sapient", busy: false, turn: 0 };

function newSessionId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// el("div", {class: "x", text: "..."}, child, ...): text is always set as text.
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === "text") node.textContent = value;
    else if (name === "class") node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function headers() {
  const h = { "Content-Type": "application/json", "X-Sapient-Session": state.session };
  if (state.key) h.Authorization = "Bearer " + state.key;
  return h;
}

function setStatus(text) { $("status").textContent = text; }

async function loadModel() {
  try {
    const r = await fetch("v1/models", { headers: headers() });
    if (r.status === 401) { $("key-bar").hidden = false; setStatus("An API key is needed."); return; }
    const body = await r.json();
    state.model = body.data[0].id;
    $("key-bar").hidden = true;
    $("model").textContent = "model: " + state.model;
    setStatus("Ready.");
  } catch (err) {
    setStatus("Cannot reach the server: " + err.message);
  }
}

function pretty(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  return JSON.stringify(value, null, 2);
}

// One assistant turn on the page: its steps, answer text, sources and footer.
class Turn {
  constructor(n) {
    this.n = n;
    this.text = "";
    this.steps = new Map();
    this.stepsBox = el("div", { class: "steps" });
    this.answer = el("div", { class: "answer" });
    this.sources = el("ol", { class: "sources" });
    this.meta = el("div", { class: "meta muted" });
    this.node = el("article", { class: "msg assistant", "data-state": "streaming" },
                   el("div", { class: "who", text: "Sapient" }), this.stepsBox, this.answer,
                   this.sources, this.meta);
  }

  addText(piece) {
    this.text += piece;
    this.answer.textContent = this.text;
  }

  step(ext) {
    let s = this.steps.get(ext.id);
    if (!s) {
      const summary = el("summary", {}, el("span", { class: "tool", text: ext.name }),
                         el("span", { class: "state muted", text: " running…" }));
      const args = el("pre", { class: "step-args" });
      const result = el("pre", { class: "step-result" });
      const box = el("details", { class: "step", "data-tool": ext.name }, summary,
                     el("div", { class: "label", text: "Arguments" }), args,
                     el("div", { class: "label", text: "Result" }), result);
      s = { box, args, result, state: summary.querySelector(".state") };
      this.steps.set(ext.id, s);
      this.stepsBox.append(box);
    }
    s.args.textContent = pretty(ext.arguments);
    if (ext.type === "tool_result") {
      s.result.textContent = ext.error ? "Error: " + ext.error : pretty(ext.result);
      s.state.textContent = ext.error ? " failed" : ` done in ${Math.round(ext.duration_ms)} ms`;
      s.box.classList.toggle("failed", Boolean(ext.error));
    }
  }

  finish(ext) {
    if (ext.stop_reason === "approval_pending") { this.askApproval(ext.pending || []); return; }
    if (ext.answer !== null && ext.answer !== undefined) this.text = ext.answer;
    const ids = new Map();
    (ext.citations || []).forEach((c, i) => {
      if (!ids.has(c.id)) ids.set(c.id, this.source(c, ids.size + 1));
    });
    this.renderAnswer(ids);
    if (!this.text.trim() && ext.stop_reason === "answer") {
      this.answer.append(el("span", { class: "muted", text: "(No answer text: see the steps and sources.)" }));
    }
    if (ext.stop_reason !== "answer") this.fail(ext.error || "The agent stopped without an answer.");
    else this.node.dataset.state = "done";
  }

  // One cited passage: a numbered, collapsible source the answer's links point to.
  source(c, number) {
    const anchor = `passage-${this.n}-${number}`;
    const from = c.source && !c.id.startsWith(c.source)
      ? el("div", { class: "from muted", text: "from " + c.source }) : null;
    const details = el("details", { class: "passage" },
                       el("summary", { text: `[${number}] ${c.id}` }),
                       el("blockquote", { text: c.text || "(no text)" }), from);
    this.sources.append(el("li", { id: anchor }, details));
    return { number, anchor, details };
  }

  // The answer with each [source_id] it cites turned into a link to that passage.
  renderAnswer(ids) {
    this.answer.replaceChildren();
    const pattern = /\[([^\[\]\n]{1,300})\]/g;
    let last = 0;
    for (const m of this.text.matchAll(pattern)) {
      const found = ids.get(m[1].trim());
      if (!found) continue;
      this.answer.append(this.text.slice(last, m.index));
      const link = el("a", { class: "cite", href: "#" + found.anchor, title: m[1],
                             text: `[${found.number}]` });
      link.addEventListener("click", () => { found.details.open = true; });
      this.answer.append(link);
      last = m.index + m[0].length;
    }
    this.answer.append(this.text.slice(last));
    if (ids.size) this.sources.prepend(el("li", { class: "sources-title muted", text: "Sources" }));
  }

  // Calls that wait for the person's yes: Approve / Deny each, then the run resumes.
  askApproval(pending) {
    this.node.dataset.state = "waiting";
    for (const s of this.steps.values()) {
      if (s.state.textContent === " running…") s.state.textContent = " waiting for approval";
    }
    const decisions = new Map();
    for (const call of pending) {
      const buttons = el("div", { class: "approval-buttons" });
      const box = el("div", { class: "approval", "data-tool": call.name },
                     el("div", { text: `Allow ${call.name}?` }),
                     el("pre", { class: "step-args", text: pretty(call.arguments) }),
                     el("div", { class: "muted", text: "Why it asks: " + (call.reasons || []).join("; ") }),
                     buttons);
      for (const [label, verdict] of [["Approve", "approve"], ["Deny", "deny"]]) {
        const button = el("button", { type: "button", class: verdict, text: label });
        button.addEventListener("click", () => {
          if (state.busy) return;
          decisions.set(call.id, verdict);
          buttons.replaceChildren(el("span", { class: "muted", text: verdict === "approve" ? "Approved." : "Denied." }));
          if (decisions.size === pending.length) {
            this.node.dataset.state = "done";
            run(pending.map((c) => ({ role: "tool", tool_call_id: c.id, content: decisions.get(c.id) })), null);
          }
        });
        buttons.append(button);
      }
      this.node.append(box);
    }
  }

  fail(message) {
    this.node.dataset.state = "error";
    this.node.append(el("div", { class: "error", text: message }));
  }
}

// Server-sent events from a fetch body: yields the JSON of each "data:" line.
async function* events(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).trimStart()).join("\n");
      if (!data) continue;
      if (data === "[DONE]") return;
      yield JSON.parse(data);
    }
  }
}

// One request: the user's text, or the answers to calls waiting for approval.
async function ask(messages, text) {
  $("empty")?.remove();
  const log = $("log");
  if (text !== null) {
    log.append(el("article", { class: "msg user" }, el("div", { class: "who", text: "You" }),
                  el("div", { class: "answer", text })));
  }
  const turn = new Turn(++state.turn);
  log.append(turn.node);
  turn.node.scrollIntoView({ block: "end" });
  const request = { model: state.model, stream: true, stream_options: { include_usage: true },
                    messages };
  const response = await fetch("v1/chat/completions", { method: "POST", headers: headers(),
                                                       body: JSON.stringify(request) });
  if (!response.ok) {
    let message = `The server answered ${response.status}.`;
    try { message = (await response.json()).error.message; } catch (_) { /* keep the status */ }
    if (response.status === 401) $("key-bar").hidden = false;
    turn.fail(message);
    return;
  }
  for await (const chunk of events(response)) {
    if (chunk.error) { turn.fail(chunk.error.message); return; }
    const delta = chunk.choices?.[0]?.delta;
    if (delta?.content) turn.addText(delta.content);
    const ext = chunk.sapient;
    if (ext?.type === "tool_call" || ext?.type === "tool_result") turn.step(ext);
    else if (ext?.type === "done") turn.finish(ext);
    if (chunk.usage) {
      turn.meta.textContent = `${chunk.usage.total_tokens} tokens`;
    }
    turn.node.scrollIntoView({ block: "end" });
  }
  if (turn.node.dataset.state === "streaming") turn.fail("The answer was cut off.");
}

async function send(event) {
  event.preventDefault();
  const text = $("prompt").value.trim();
  if (!text || state.busy) return;
  $("prompt").value = "";
  await run([{ role: "user", content: text }], text);
}

async function run(messages, text) {
  state.busy = true;
  $("send").disabled = true;
  setStatus("Thinking…");
  try {
    await ask(messages, text);
    setStatus($("log").querySelector('article[data-state="waiting"]') ? "Waiting for your approval." : "Ready.");
  } catch (err) {
    setStatus("Error: " + err.message);
  } finally {
    state.busy = false;
    $("send").disabled = false;
    $("prompt").focus();
  }
}

function init() {
  $("composer").addEventListener("submit", send);
  $("prompt").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("composer").requestSubmit(); }
  });
  $("new-chat").addEventListener("click", () => {
    state.session = newSessionId();
    $("log").replaceChildren();
    setStatus("New conversation.");
  });
  $("save-key").addEventListener("click", () => {
    state.key = $("api-key").value.trim();
    sessionStorage.setItem("sapient.key", state.key);
    loadModel();
  });
  loadModel();
  $("prompt").focus();
}

init();
