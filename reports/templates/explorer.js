"use strict";
// The data is untrusted model output (code, traces, signals, token texts): it reaches the page only
// as text nodes and properties (textContent, title, dataset), never as markup.
const META = JSON.parse(document.getElementById("meta").textContent);
const CACHE = {}, WAIT = {};
const EGCFG = {receive(n, blob) { CACHE[n] = blob; (WAIT[n] || []).splice(0).forEach(f => f(blob)); }};
window.EGCFG = EGCFG;
const S = {n: null, run: 0, agent: null, line: null};  // what is shown

// ---- small helpers ------------------------------------------------------------------------------
function h(tag, props, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "data") Object.entries(v).forEach(([d, x]) => { e.dataset[d] = String(x); });
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "title" || k === "colSpan" || k === "value" || k === "type" || k === "placeholder" || k === "href") e[k] = v;
    else e.setAttribute(k, String(v));
  }
  add(e, kids);
  return e;
}
function add(e, ...kids) {
  for (const k of kids.flat(Infinity)) {
    if (k == null || k === false) continue;
    e.appendChild(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}
function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }
function num(v, digits) {
  if (v == null) return "–";
  if (typeof v !== "number") return String(v);
  if (digits == null) return Number.isInteger(v) ? String(v) : String(+v.toFixed(3));
  return v.toFixed(digits);
}
function secs(v) { return v == null ? "–" : (v < 10 ? v.toFixed(2) : v.toFixed(1)); }
function pill(ok, yes, no, unknown) {
  if (ok == null) return h("span", {class: "pill unknown"}, unknown || "–");
  return h("span", {class: "pill " + (ok ? "pass" : "fail")}, ok ? yes : no);
}
const SOURCE_TIP = {
  greedy: "the γ = 0, t = 0 baseline decoded it", sampler: "an unguided sampler (γ = 0, t > 0) sampled it",
  draft: "an accepted draft: a candidate of the exploration step that was a whole function passing every visible test",
  guided: "the EG-CFG line loop wrote it, some tokens chosen under an execution signal",
  unguided: "the EG-CFG line loop wrote it, no token chosen under a signal",
  loop: "the EG-CFG line loop wrote it (guided or not: not in this export)", none: "no code",
};
function sourceBadge(src) {
  return h("span", {class: "badge src-" + (src || "unknown"), title: SOURCE_TIP[src] || "not recorded"}, src || "–");
}
const RULE_TIP = {
  header: "the def line: its name and arguments are fixed by the prompt; written unguided, not explored",
  fence: "the unguided stream's next token closes the code block; written unguided, not explored",
  agree: "explored and executed, but every candidate began with the same line: written unguided",
  ahead: "the previous line's candidates all agreed on this line: not explored, written unguided",
  confident: "every token's unguided probability reached skip_confident: not explored, written unguided",
};
function lineBadge(l, att) {
  const flips = l.tokens.filter(t => t.g && t.flip).length;
  switch (l.source) {
    case "draft": return h("span", {class: "badge src-draft", title: "from the accepted draft: candidate #" + att.verified_candidate +
      " of this line, a whole function that passed every visible test (the code after this line's prefix)"}, "draft #" + att.verified_candidate);
    case "skipped": return h("span", {class: "badge src-skipped", title: RULE_TIP[l.skip_rule] || "skip rule " + l.skip_rule}, "skip: " + l.skip_rule);
    case "guided": return h("span", {class: "badge src-guided", title: "written under an execution signal (γ = " + att.gamma + ")" +
      (flips ? "; " + flips + " token(s) where guidance changed the unguided argmax" : "")}, "guided", flips ? h("b", {class: "nflip"}, " ·" + flips + "⚑") : null);
    case "greedy": return h("span", {class: "badge src-greedy", title: "the greedy baseline's line (γ = 0)"}, "greedy");
    case "sampled": return h("span", {class: "badge src-sampler", title: "an unguided sampler's line (γ = 0, t = " + att.t + ")"}, "sampled");
    default: return h("span", {class: "badge src-unguided", title: "no execution signal for this line"}, "no signal");
  }
}
function load(n, done) {
  if (CACHE[n]) return done(CACHE[n]);
  (WAIT[n] = WAIT[n] || []).push(done);
  if (WAIT[n].length === 1) document.body.appendChild(h("script", {src: META.problems[n].file}));
}
function setHash() {
  const p = new URLSearchParams();
  if (S.n != null) p.set("task", META.problems[S.n].task_id);
  if (S.run) p.set("run", S.run);
  if (S.agent != null) p.set("agent", S.agent);
  if (S.line != null) p.set("line", S.line);
  history.replaceState(null, "", p.toString() ? "#" + p.toString() : location.pathname);
}

// ---- header and the run's overview ---------------------------------------------------------------
function header() {
  const box = document.getElementById("runinfo");
  META.runs.forEach((r, i) => add(box, [h("span", {class: "run-id" + (i ? " vs" : ""), title: r.model + " · created " + r.created_at},
    i ? "vs " : "", h("code", null, r.run_id), " ", h("span", {class: "muted"}, (r.config.benchmark || "") + " · " + shortModel(r.model)))]));
  document.getElementById("home").addEventListener("click", ev => { ev.preventDefault(); showRun(); });
}
function shortModel(m) { return (m || "").split(":")[0]; }
function configTable(obj) {
  const t = h("table", {class: "kv"});
  for (const [k, v] of Object.entries(obj)) {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      add(t, h("tr", {class: "section"}, h("th", {colSpan: 2}, k)));
      add(t, h("tr", null, h("td", {colSpan: 2, class: "nest"}, configTable(v))));
    } else {
      let text = v, cls = "v";
      if (Array.isArray(v)) text = v.length ? v.map(x => typeof x === "object" ? JSON.stringify(x) : String(x)).join(", ") : "(none)";
      else if (typeof v === "boolean") cls += v ? " yes" : " no";
      else if (v === null) text = "null";
      add(t, h("tr", null, h("th", null, k), h("td", {class: cls}, String(text))));
    }
  }
  return t;
}
function agentsTable(r) {
  const t = h("table", {class: "grid agents"});
  add(t, h("thead", null, h("tr", null, ["agent", "t", "γ", "s", "d", "attempts", "passed visible", "wins", "drafts accepted", "wall s"].map(x => h("th", null, x)))));
  const body = add(h("tbody"), r.agents.map(a => h("tr", null, h("td", {class: "mono"}, a.agent_name), h("td", null, num(a.t)), h("td", null, num(a.gamma)),
    h("td", null, num(a.s)), h("td", null, num(a.d)), h("td", null, a.attempts), h("td", null, a.passed_visible), h("td", null, a.wins),
    h("td", null, a.drafts), h("td", null, secs(a.wall_s)))));
  return add(t, body);
}
function counts(list, key) {
  const c = {};
  list.forEach(p => { const k = p[key] == null ? "–" : p[key]; c[k] = (c[k] || 0) + 1; });
  return c;
}
function showRun() {
  S.n = null; S.agent = null; S.line = null; setHash(); markSelected();
  const d = clear(document.getElementById("detail"));
  const P = META.problems, done = P.filter(p => p.status === "done").length;
  const scored = P.filter(p => p.passed_hidden != null), passed = scored.filter(p => p.passed_hidden).length;
  add(d, h("div", {class: "cards"},
    card("problems", P.length, done + " done" + (P.length - done ? " · " + (P.length - done) + " failed" : "")),
    card("passed hidden tests", passed + " / " + scored.length, scored.length ? (100 * passed / scored.length).toFixed(1) + "% of those scored" : "none scored"),
    card("some agent passed visible", P.filter(p => p.winner != null).length, "of " + P.length),
    card("final code from", null, Object.entries(counts(P, "final_source")).map(([k, v]) => h("span", {class: "srccount"}, sourceBadge(k === "–" ? null : k), " " + v)))));
  META.runs.forEach((r, i) => {
    add(d, h("section", {class: "panel"},
      h("h2", null, (i ? "vs run " : "Run ") , h("code", null, r.run_id)),
      h("p", {class: "muted"}, r.model + " · code " + r.code_version + " · created " + r.created_at +
        (r.has_lines ? "" : " · lines, tokens and drafts are not in this export")),
      h("h3", null, "Agents"), agentsTable(r),
      h("h3", null, "Config"), configTable(r.config)));
  });
}
function card(label, value, sub) {
  return h("div", {class: "card"}, h("div", {class: "label"}, label), value != null ? h("div", {class: "value"}, String(value)) : null, h("div", {class: "sub"}, sub));
}

// ---- the problem list ---------------------------------------------------------------------------
const VIEWS = {"all problems": p => true, "solved only by EG-CFG": p => p.only_egcfg, "broken by EG-CFG": p => p.broken, "no agent passed": p => p.none_passed};
const F = {q: "", hidden: "all", visible: "all", source: "any", view: "all problems"};
function select(key, label, options) {
  const s = h("select", {id: "f-" + key, "aria-label": label, onchange: ev => { F[key] = ev.target.value; list(); }},
    options.map(([v, text]) => h("option", {value: v}, text)));
  return h("label", {class: "frow"}, h("span", null, label), s);
}
function filters() {
  const P = META.problems, src = counts(P, "final_source");
  add(document.getElementById("filters"), [
    h("input", {id: "q", type: "search", placeholder: "Search task id…", "aria-label": "search task id",
      oninput: ev => { F.q = ev.target.value.trim().toLowerCase(); list(); }}),
    select("hidden", "Hidden tests", [["all", "all"], ["passed", "passed (" + P.filter(p => p.passed_hidden === true).length + ")"],
      ["failed", "failed (" + P.filter(p => p.passed_hidden === false).length + ")"], ["unscored", "not scored (" + P.filter(p => p.passed_hidden == null).length + ")"]]),
    select("visible", "Visible tests", [["all", "all"], ["passed", "an agent passed (" + P.filter(p => p.winner != null).length + ")"],
      ["failed", "none passed (" + P.filter(p => p.winner == null).length + ")"]]),
    select("source", "Winner source", [["any", "any"], ...Object.keys(src).sort().map(k => [k, k + " (" + src[k] + ")"])]),
    select("view", "Show", Object.keys(VIEWS).map(k => [k, k + " (" + P.filter(VIEWS[k]).length + ")"])),
  ]);
}
function keep(p) {
  if (F.q && !p.task_id.toLowerCase().includes(F.q)) return false;
  if (F.hidden === "passed" && p.passed_hidden !== true) return false;
  if (F.hidden === "failed" && p.passed_hidden !== false) return false;
  if (F.hidden === "unscored" && p.passed_hidden != null) return false;
  if (F.visible === "passed" && p.winner == null) return false;
  if (F.visible === "failed" && p.winner != null) return false;
  if (F.source !== "any" && (p.final_source == null ? "–" : p.final_source) !== F.source) return false;
  return VIEWS[F.view](p);
}
function list() {
  const ul = clear(document.getElementById("problems"));
  let shown = 0;
  META.problems.forEach((p, n) => {
    if (!keep(p)) return;
    shown++;
    const li = h("li", {class: "prob" + (n === S.n ? " sel" : ""), data: {task: p.task_id, n}, tabindex: 0,
      onclick: () => openProblem(n), onkeydown: ev => { if (ev.key === "Enter") openProblem(n); }},
      h("div", {class: "row1"}, h("span", {class: "tid"}, p.task_id),
        p.status === "failed" ? h("span", {class: "pill fail", title: p.error}, "error") : pill(p.passed_hidden, "hidden ✓", "hidden ✗", "not scored")),
      h("div", {class: "row2"}, sourceBadge(p.final_source), h("span", {class: "muted"}, " " + (p.final_name || "–") + " · " + p.n_attempts + " attempt" + (p.n_attempts === 1 ? "" : "s")),
        p.vs ? h("span", {class: "vsv", title: "the vs run's final code: " + (p.vs.final_source || "–")}, " vs ", pill(p.vs.passed_hidden, "✓", "✗")) : null));
    ul.appendChild(li);
  });
  document.getElementById("count").textContent = shown + " of " + META.problems.length + " problems";
}
function markSelected() {
  document.querySelectorAll("#problems li.prob").forEach(li => li.classList.toggle("sel", +li.dataset.n === S.n));
}

// ---- one problem --------------------------------------------------------------------------------
function openProblem(n, then) {
  S.n = n; S.agent = null; S.line = null; markSelected();
  load(n, blob => { if (S.n === n) { showProblem(blob); if (then) then(blob); } });
}
function showProblem(blob) {
  const d = clear(document.getElementById("detail"));
  const p = META.problems[S.n];
  if (S.run >= blob.runs.length) S.run = 0;
  add(d, h("div", {class: "phead"}, h("h2", null, p.task_id),
    p.status === "failed" ? h("span", {class: "pill fail", title: p.error}, "failed: " + p.error) : pill(p.passed_hidden, "passed hidden", "failed hidden", "not scored"),
    h("span", {class: "muted"}, " final: " + (p.final_name || "–") + " "), sourceBadge(p.final_source),
    h("span", {class: "muted"}, " · " + secs(p.wall_s) + " s")));
  if (blob.runs.length > 1) add(d, compare(blob));
  const r = blob.runs[S.run];
  const body = h("div", {class: "run", data: {run: S.run}});
  add(d, body);
  if (r.missing) { add(body, h("p", {class: "notice"}, "not in this run")); setHash(); return; }
  add(body, h("details", {class: "desc", open: r.description.length < 1200},
    h("summary", null, "Description and visible tests"), h("pre", {class: "description"}, r.description),
    r.visible_tests.length ? h("ul", {class: "tests"}, r.visible_tests.map(t => h("li", null, h("code", null, t)))) : null));
  add(body, h("h3", null, "Attempts"), h("div", {class: "tablewrap"}, attemptsTable(r)));
  const codeBox = h("div", {class: "codebox"}), lineBox = h("div", {class: "linebox"});
  add(body, codeBox, lineBox);
  const want = S.agent != null ? r.attempts.find(a => a.agent_index === S.agent) : null;
  const first = want || r.attempts.find(a => a.is_final) || r.attempts[0];
  if (first) showAttempt(r, first);
  else setHash();
}
function compare(blob) {
  const t = h("table", {class: "grid compare"});
  add(t, h("thead", null, h("tr", null, ["", "run", "hidden", "final agent", "final code", "attempts"].map(x => h("th", null, x)))));
  blob.runs.forEach((r, i) => {
    const fin = r.missing ? null : r.attempts.find(a => a.is_final);
    add(t, h("tr", {class: "runrow" + (i === S.run ? " sel" : ""), data: {run: i}, onclick: () => { S.run = i; S.agent = null; S.line = null; showProblem(blob); }},
      h("td", null, h("input", {type: "radio", name: "run", "aria-label": "show run " + i, checked: i === S.run})),
      h("td", null, h("code", null, META.runs[i].run_id)),
      h("td", null, r.missing ? "not in this run" : pill(r.solution && r.solution.passed_hidden, "pass", "fail")),
      h("td", {class: "mono"}, fin ? fin.agent_name : "–"), h("td", null, fin ? sourceBadge(fin.code_source) : "–"),
      h("td", null, r.missing ? "–" : r.attempts.length)));
  });
  return t;
}
function attemptsTable(r) {
  const FD = META.fields;
  const t = h("table", {class: "grid attempts"});
  add(t, h("thead", null, h("tr", null,
    [["agent"], ["t"], ["γ"], ["s"], ["d"], ["outcome"], ["stop"], ["code source", "where the attempt's code came from"],
     ["draft line", "the line whose candidate was accepted as the code (stop reason 'verified')"],
     ["guided", "tokens of the code chosen under an execution signal / tokens of the code chosen by the decoder"],
     ["flipped", "guided tokens of the code where guidance changed the unguided argmax"],
     ["tokens", "tokens decoded (hover a cell for the full count)"], ["runs", FD.sandbox_runs], ["CPU s", FD.process_cpu_s], ["wall s", FD.wall_s]]
      .map(([x, tip]) => h("th", {title: tip}, x)))));
  const body = h("tbody");
  r.attempts.forEach(a => {
    const c = a.compute || {};
    const costTip = Object.keys(FD).filter(k => c[k] != null).map(k => k + " = " + num(c[k])).join("\n") || "not measured";
    add(body, h("tr", {class: "attempt" + (a.agent_index === S.agent ? " sel" : ""), data: {agent: a.agent_index}, tabindex: 0,
      onclick: () => showAttempt(r, a), onkeydown: ev => { if (ev.key === "Enter") showAttempt(r, a); }},
      h("td", {class: "mono"}, a.agent_name, a.reused_from ? h("span", {class: "tag", title: "copied from run " + a.reused_from + " (same greedy decoding)"}, "copied") : null),
      h("td", null, num(a.t)), h("td", null, num(a.gamma)), h("td", null, num(a.s)), h("td", null, num(a.d)),
      h("td", null, pill(a.outcome === "passed" ? true : (a.outcome === "failed" || a.outcome === "error" ? false : null), a.outcome, a.outcome, a.outcome),
        a.is_winner ? h("span", {class: "tag win", title: "first agent to pass every visible test"}, "winner") : null,
        a.is_final ? h("span", {class: "tag fin", title: "its code is the problem's solution"}, "final") : null),
      h("td", null, a.stop_reason), h("td", null, sourceBadge(a.code_source)),
      h("td", null, a.verified_line != null ? "L" + a.verified_line + " #" + a.verified_candidate : "–"),
      h("td", {title: a.final_tokens != null ? "of " + a.final_tokens + " decoded tokens in the code, in " + num(a.final_guided_lines) + " guided line(s)" : null},
        num(a.final_guided_tokens)),
      h("td", {class: a.final_flipped_tokens ? "flipcount" : null}, num(a.final_flipped_tokens)),
      h("td", {title: costTip}, num(a.n_tokens)), h("td", {title: costTip}, num(c.sandbox_runs)),
      h("td", {title: "process CPU " + secs(c.process_cpu_s) + " s; sandbox CPU " + secs(c.sandbox_cpu_s) + " s"}, secs(c.process_cpu_s)),
      h("td", {title: costTip}, secs(c.wall_s != null ? c.wall_s : a.timings.wall_s))));
  });
  return add(t, body);
}

// ---- an attempt's code --------------------------------------------------------------------------
const LEGEND = [["src-guided", "guided line"], ["src-draft", "from the accepted draft"], ["src-skipped", "skipped by a rule"],
  ["src-greedy", "greedy / unguided"]];
function showAttempt(r, a) {
  S.agent = a.agent_index; S.line = null;
  document.querySelectorAll("tr.attempt").forEach(tr => tr.classList.toggle("sel", +tr.dataset.agent === a.agent_index));
  const box = clear(document.querySelector(".codebox")), lineBox = clear(document.querySelector(".linebox"));
  add(box, h("div", {class: "codehead"}, h("h3", null, "Code · ", h("span", {class: "mono"}, a.agent_name)),
    h("span", {class: "muted"}, " " + a.stop_reason + (a.visible && a.visible.length ? " · visible: " : "")),
    (a.visible || []).map(v => h("span", {class: "pill " + (v.status === "passed" ? "pass" : "fail"), title: v.error || v.status}, "test " + v.test_index + " " + v.status)),
    a.error ? h("span", {class: "err"}, " " + a.error) : null));
  const code = h("div", {class: "code"});
  if (!a.lines.length) {
    add(box, h("p", {class: "notice"}, a.lines_missing ?
      "Lines, tokens and drafts are not in this export (a results export keeps the attempts only): below is the attempt's code as stored. Open the store for the rest."
      : "No lines recorded for this attempt: below is its code as stored."), code);
    (a.code || "").replace(/\n$/, "").split("\n").forEach((text, i) => add(code, h("div", {class: "ln plain"}, h("span", {class: "gutter"}, i + 1), h("span", {class: "bcell"}), h("pre", {class: "text"}, text))));
    setHash();
    return;
  }
  add(box.firstChild, h("span", {class: "legend"}, LEGEND.map(([c, t]) => h("span", {class: "lg " + c}, t)),
    h("span", {class: "tok g"}, "guided token"), h("span", {class: "tok g flip"}, "flipped"), h("span", {class: "tok out"}, "not in the code")));
  add(box, code);
  a.lines.forEach(l => {
    const text = h("pre", {class: "text"});
    if (l.tokens.length) l.tokens.forEach(t => text.appendChild(token(t, l, r.vocab, a, lineBox)));
    else text.textContent = l.chosen_text.replace(/\n$/, "");
    const row = h("div", {class: "ln src-" + (l.source === "sampled" ? "sampler" : l.source) + (l.in_code ? "" : " outline"), data: {line: l.line_index}, tabindex: 0,
      title: l.in_code ? null : "after the end of the code (not part of it)",
      onclick: () => selectLine(a, l, r.vocab, lineBox), onkeydown: ev => { if (ev.key === "Enter") selectLine(a, l, r.vocab, lineBox); }},
      h("span", {class: "gutter"}, l.line_index), h("span", {class: "bcell"}, lineBadge(l, a)), text);
    code.appendChild(row);
  });
  add(lineBox, h("p", {class: "hint"}, "Click a line for its drafts, their runs and the signal; hover a token for its log-probabilities."));
  setHash();
}
function shown(text) { return text.endsWith("\n") ? text.slice(0, -1) + "↵" : text; }
function token(t, l, vocab, a, lineBox) {
  const moved = t.lc != null && t.lu != null ? t.lc - t.lu : 0;
  const cls = "tok" + (t.g ? " g" : "") + (t.g && t.flip ? " flip" : "") + (!t.g && t.flip ? " off" : "") + (t.in_code ? "" : " out") + (t.text.endsWith("\n") ? " nl" : "");
  const s = h("span", {class: cls, data: {pos: t.pos}}, shown(t.text));
  if (t.g) s.style.setProperty("--a", (0.2 + 0.3 * Math.min(1, Math.abs(moved) / 3)).toFixed(2));
  s.addEventListener("mouseenter", () => showTip(s, t, vocab));
  s.addEventListener("mouseleave", hideTip);
  s.addEventListener("click", ev => { ev.stopPropagation(); selectLine(a, l, vocab, lineBox, t); });
  return s;
}
function tokName(vocab, id) { return vocab[id] != null ? JSON.stringify(vocab[id]) : "#" + id; }
function lp(v) { return v == null ? "−∞" : v.toFixed(2); }
function tokenTable(t, vocab) {
  const rows = [["unguided", t.tu, null], ["guided", t.tg, t.masked], ["combined", t.tc, null]].filter(([, lst]) => lst && lst.length);
  const k = Math.max(0, ...rows.map(([, lst]) => lst.length));
  const tb = h("table", {class: "topk"});
  add(tb, h("thead", null, h("tr", null, h("th", null, "top-k"), rows.map(([n]) => h("th", null, n)))));
  const body = h("tbody");
  for (let i = 0; i < k; i++) add(body, h("tr", null, h("td", {class: "muted"}, i + 1), rows.map(([, lst, m]) => {
    const e = lst[i];
    if (!e) return h("td");
    return h("td", {class: e.id === t.id ? "chosen" : null}, h("code", {title: vocab[e.id] != null ? null : "token id " + e.id + ": its text is not in the store (no attempt chose it)"}, tokName(vocab, e.id)), " " + lp(e.logp),
      m && m[i] ? h("span", {class: "tag masked", title: "removed by the plausibility mask"}, "masked") : null);
  })));
  return add(tb, body);
}
function tokenFacts(t) {
  return h("div", {class: "facts"},
    h("div", null, h("b", null, "token "), h("code", null, JSON.stringify(t.text)), h("span", {class: "muted"}, "  position " + t.pos),
      t.g ? h("span", {class: "tag g"}, "guided") : h("span", {class: "tag"}, "unguided"),
      t.flip ? h("span", {class: "tag flip"}, t.g ? "argmax flipped" : "not the unguided argmax") : null,
      t.in_code ? null : h("span", {class: "tag"}, "not in the code")),
    h("div", {class: "lps"}, "logp unguided ", h("b", null, lp(t.lu)), " · guided ", h("b", null, lp(t.lg)), " · combined ", h("b", null, lp(t.lc)),
      t.lc != null && t.lu != null ? h("span", {class: "muted"}, "  (Δ " + (t.lc - t.lu >= 0 ? "+" : "") + (t.lc - t.lu).toFixed(2) + ")") : null));
}
function showTip(anchor, t, vocab) {
  const tip = clear(document.getElementById("tip"));
  add(tip, tokenFacts(t), tokenTable(t, vocab));
  tip.hidden = false;
  const r = anchor.getBoundingClientRect(), w = tip.offsetWidth, hgt = tip.offsetHeight;
  let x = Math.min(r.left, window.innerWidth - w - 8), y = r.bottom + 6;
  if (y + hgt > window.innerHeight - 4) y = Math.max(4, r.top - hgt - 6);
  tip.style.left = Math.max(4, x) + "px"; tip.style.top = y + "px";
}
function hideTip() { document.getElementById("tip").hidden = true; }

// ---- a line: its drafts (candidates and their runs) and its signal ------------------------------
function selectLine(a, l, vocab, box, tok) {
  S.line = l.line_index; setHash();
  document.querySelectorAll(".code .ln").forEach(x => x.classList.toggle("sel", +x.dataset.line === l.line_index));
  clear(box);
  const c = l.compute || {}, tm = l.timings || {};
  const flips = l.tokens.filter(t => t.g && t.flip).length;
  add(box, h("div", {class: "linehead"}, h("h3", null, "Line " + l.line_index + " "), lineBadge(l, a),
    h("span", {class: "stats"}, [
      [l.tokens.length ? l.tokens.length + " tokens" : null, null], [flips ? flips + " flipped" : null, null],
      [l.candidates.length ? l.candidates.length + " drafts" : null, null],
      ...["sample_s", "execute_s", "prefill_s", "decode_s"].filter(k => tm[k] != null).map(k => [k.replace("_s", "") + " " + secs(tm[k]) + " s", null]),
      [c.sandbox_runs ? c.sandbox_runs + " runs" : null, META.fields.sandbox_runs],
      [c.process_cpu_s != null ? "CPU " + secs(c.process_cpu_s) + " s" : null, META.fields.process_cpu_s],
      [c.wall_s != null ? "wall " + secs(c.wall_s) + " s" : null, META.fields.wall_s],
    ].filter(([x]) => x).map(([x, tip]) => h("span", {class: "stat", title: tip}, x)))));
  if (tok) add(box, h("div", {class: "tokinfo"}, tokenFacts(tok), tokenTable(tok, vocab)));
  const drafts = h("div", {class: "drafts"}, h("h4", null, "Drafts ", h("span", {class: "muted"}, "(candidates sampled for this line, run on each visible test)")));
  if (!l.candidates.length) add(drafts, h("p", {class: "muted"}, l.source === "skipped" ? "none: the line was not explored (skip rule " + l.skip_rule + ")"
    : a.gamma === 0 ? "none: a γ = 0 agent does not explore" : "none recorded"));
  l.candidates.forEach(cd => add(drafts, candidate(cd)));
  const sig = h("div", {class: "signalcol"}, h("h4", null, "Signal ", h("span", {class: "muted"}, "(the block put into p_dyn)")),
    l.signal ? h("pre", {class: "signal"}, l.signal) : h("p", {class: "muted"}, "no signal: this line was written unguided"));
  add(box, h("div", {class: "split"}, drafts, sig));
}
function candidate(cd) {
  const passed = cd.runs.filter(r => r.status === "passed").length;
  return h("div", {class: "cand" + (cd.accepted ? " accepted" : ""), data: {cand: cd.index}},
    h("div", {class: "candhead"}, h("b", null, "#" + cd.index),
      cd.accepted ? h("span", {class: "tag acc", title: "a whole function that passed every visible test: the attempt's code"}, "accepted draft") : null,
      cd.duplicate_of != null ? h("span", {class: "tag"}, "duplicate of #" + cd.duplicate_of) : null,
      cd.carried_from != null ? h("span", {class: "tag", title: "sampled and run at line " + cd.carried_from + " (it began with the lines written since): its rest, with that line's runs"}, "carried from line " + cd.carried_from) : null,
      cd.executable == null ? h("span", {class: "tag"}, "nothing executable") : null,
      cd.runs.length ? h("span", {class: "muted"}, " " + passed + "/" + cd.runs.length + " tests passed") : null),
    h("pre", {class: "raw"}, cd.raw),
    cd.executable != null ? h("details", {class: "exe"}, h("summary", null, "executable program"), h("pre", {class: "exe"}, cd.executable)) : null,
    cd.runs.map(r => h("div", {class: "runres"},
      h("div", null, h("span", {class: "pill " + (r.status === "passed" ? "pass" : "fail")}, "test " + r.test + " " + r.status),
        h("span", {class: "muted"}, " " + secs(r.duration_s) + " s"), r.error ? h("span", {class: "err"}, " " + r.error) : null),
      r.trace ? h("pre", {class: "trace"}, r.trace) : null)));
}

// ---- start --------------------------------------------------------------------------------------
header(); filters(); list();
(function start() {
  const p = new URLSearchParams(location.hash.slice(1));
  const n = META.problems.findIndex(x => x.task_id === p.get("task"));
  if (n < 0 && !(META.task && META.problems.length)) return showRun();
  S.run = +(p.get("run") || 0);
  const agent = p.get("agent"), line = p.get("line");
  openProblem(n < 0 ? 0 : n, blob => {
    if (agent == null) return;
    const r = blob.runs[S.run], a = r && !r.missing && r.attempts.find(x => x.agent_index === +agent);
    if (!a) return;
    showAttempt(r, a);
    const l = line != null && a.lines.find(x => x.line_index === +line);
    if (l) selectLine(a, l, r.vocab, document.querySelector(".linebox"));
  });
})();
