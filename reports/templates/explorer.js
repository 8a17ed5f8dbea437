"use strict";
// Data is untrusted model output: it is written only with textContent, never as HTML.
const META = JSON.parse(document.getElementById("meta").textContent);
const CACHE = {}, WAIT = {};
const EGCFG = {receive(n, blob) { CACHE[n] = blob; (WAIT[n] || []).forEach(f => f(blob)); }};
window.EGCFG = EGCFG;
function el(tag, text, cls) { const e = document.createElement(tag); if (text != null) e.textContent = String(text); if (cls) e.className = cls; return e; }
function load(n, file, done) {
  if (CACHE[n]) return done(CACHE[n]);
  (WAIT[n] = WAIT[n] || []).push(done);
  const s = document.createElement("script"); s.src = file; document.body.appendChild(s);
}
function yn(v) { return v == null ? "?" : (v ? "pass" : "fail"); }
function header() {
  const h = document.getElementById("run");
  META.runs.forEach((r, i) => {
    h.appendChild(el("h2", (i ? "vs run " : "run ") + r.run_id + " — " + r.model));
    h.appendChild(el("pre", JSON.stringify(r.config)));
    const t = el("table"); t.appendChild(el("tr", "agent · t · γ · s · d · attempts · passed visible · wins"));
    r.agents.forEach(a => t.appendChild(el("tr", [a.agent_name, a.t, a.gamma, a.s, a.d, a.attempts, a.passed_visible, a.wins].join(" · "))));
    h.appendChild(t);
  });
}
const FILTERS = {"all": p => true, "solved only by EG-CFG": p => p.only_egcfg, "broken by EG-CFG": p => p.broken, "no agent passed": p => p.none_passed};
function list(filter) {
  const ul = document.getElementById("problems"); ul.textContent = "";
  META.problems.forEach((p, n) => {
    if (!FILTERS[filter](p)) return;
    const li = el("li", p.task_id + "  greedy " + yn(p.greedy_passed) + " · final " + (p.final_name || "-") + " · hidden " + yn(p.passed_hidden)
      + (p.vs ? "  | vs hidden " + yn(p.vs.passed_hidden) : ""));
    li.dataset.task = p.task_id; li.onclick = () => load(n, p.file, showProblem); ul.appendChild(li);
  });
}
function filters() {
  const f = document.getElementById("filters");
  Object.keys(FILTERS).forEach(k => { const b = el("button", k); b.dataset.filter = k; b.onclick = () => list(k); f.appendChild(b); });
}
function showProblem(blob) {
  const d = document.getElementById("detail"); d.textContent = "";
  const runs = el("div", null, "runs"); d.appendChild(runs);
  blob.runs.forEach((r, i) => {
    const col = el("div", null, "run"); col.dataset.run = i; runs.appendChild(col);
    col.appendChild(el("h3", r.task_id + " (" + META.runs[i].run_id + ")"));
    if (r.missing) { col.appendChild(el("p", "not in this run")); return; }
    col.appendChild(el("pre", r.description));
    const bar = el("div"); col.appendChild(bar); const body = el("div"); col.appendChild(body);
    r.attempts.forEach(a => {
      const b = el("button", a.agent_name + " " + a.outcome + (a.is_final ? " (final)" : ""), "attempt");
      b.dataset.agent = a.agent_index; b.onclick = () => showAttempt(body, a, r.vocab); bar.appendChild(b);
    });
  });
}
function showAttempt(body, a, vocab) {
  body.textContent = "";
  body.appendChild(el("p", "stop: " + a.stop_reason + " · visible: " + (a.visible || []).map(v => v.status).join(", ") + (a.error ? " · " + a.error : "")));
  const code = el("div"); body.appendChild(code); const line = el("div"); body.appendChild(line);
  let prefix = "";
  a.lines.forEach(l => {
    if (l.prefix != null) prefix = l.prefix;
    const row = el("pre", l.chosen_text, "ln"); row.dataset.line = l.line_index; row.title = "line " + l.line_index;
    row.onclick = () => { code.querySelectorAll(".ln").forEach(x => x.classList.remove("sel")); row.classList.add("sel"); showLine(line, l, vocab); };
    code.appendChild(row); prefix += l.chosen_text;
  });
}
function tokName(vocab, id) { return vocab[id] != null ? JSON.stringify(vocab[id]) : "#" + id; }
function showLine(box, l, vocab) {
  box.textContent = "";
  box.appendChild(el("h4", "line " + l.line_index + " timings: " + Object.entries(l.timings).map(([k, v]) => k + " " + v.toFixed(3) + " s").join(", ")));
  const toks = el("div", null, "tokens"); box.appendChild(toks); const info = el("div"); box.appendChild(info);
  l.tokens.forEach(t => {
    const moved = (t.lc ?? 0) - t.lu, a = Math.min(1, Math.abs(moved) / 3);
    const s = el("span", t.text, "tok" + (t.flip ? " flip" : "") + (t.masked.some(m => m) ? " masked" : ""));
    s.style.background = moved >= 0 ? `rgba(0,160,0,${a})` : `rgba(200,0,0,${a})`;
    s.dataset.pos = t.pos; s.title = "Δ logp (combined − unguided) " + moved.toFixed(2);
    s.onclick = () => { info.textContent = "";
      const tb = el("table"); tb.appendChild(el("caption", "token " + JSON.stringify(t.text) + (t.flip ? " — argmax flipped" : "")));
      [["unguided", t.tu], ["guided", t.tg], ["combined", t.tc]].forEach(([n, lst]) => {
        const tr = el("tr"); tr.appendChild(el("th", n));
        lst.forEach((e, k) => tr.appendChild(el("td", tokName(vocab, e.id) + " " + (e.logp == null ? "-inf" : e.logp.toFixed(2)) + (n === "guided" && t.masked[k] ? " (masked)" : ""))));
        tb.appendChild(tr); });
      info.appendChild(tb); };
    toks.appendChild(s);
  });
  box.appendChild(el("h4", "signal block (as inserted into p_dyn)")); box.appendChild(el("pre", l.signal || "(no signal: unguided line)", "signal"));
  l.candidates.forEach(c => {
    const div = el("div", null, "cand"); div.dataset.cand = c.index; box.appendChild(div);
    div.appendChild(el("h4", "candidate " + c.index + (c.duplicate_of != null ? " (duplicate of " + c.duplicate_of + ")" : "")));
    div.appendChild(el("pre", c.raw, "raw")); div.appendChild(el("pre", c.executable == null ? "(nothing executable)" : c.executable, "exe"));
    c.runs.forEach(r => { div.appendChild(el("p", "test " + r.test + ": " + r.status + (r.error ? " — " + r.error : ""), r.status === "passed" ? "pass" : "fail"));
      div.appendChild(el("pre", r.trace, "trace")); });
  });
}
header(); filters(); list("all");
if (META.task && META.problems.length) load(0, META.problems[0].file, showProblem);
