// The per-question explorer of evalkit's HTML report. Its data is gzip'd JSON in base64 (see
// evalkit/sinks/report_data.py for the layout); every string from the run is inserted as text.
(async function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const PAGE = 100;
  // case rows: id, question, expected answers, expected sources, tags, answerable
  // sample rows: case, candidate, answer, passages, citations, latency, cost, error, scores, notes, claims,
  //   baseline (null, or [its answer, its scores] on the same case and candidate)
  async function load() {
    const bytes = Uint8Array.from(atob($("data").textContent.trim()), (c) => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return JSON.parse(await new Response(stream).text());
  }
  const D = await load();
  const metrics = D.metrics.map((m) => m[0]);
  const lowerIsBetter = D.metrics.map((m) => m[1] === "lower");
  const samples = D.samples;
  const byCase = new Map();
  samples.forEach((s, i) => { if (!byCase.has(s[0])) byCase.set(s[0], []); byCase.get(s[0]).push(i); });
  const haystack = samples.map((s) => {
    const c = D.cases[s[0]];
    return (c[0] + " " + c[1] + " " + (s[2] || "") + " " + c[3].join(" ")).toLowerCase();
  });
  const state = { page: 0, sort: "case", dir: 1, rows: [] };

  function node(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function fmt(v) { return v === null || v === undefined ? "–" : Number(v).toFixed(3); }
  function failsGate(s, m) {
    const name = D.candidates[s[1]];
    return D.gates.some(([cand, metric, min, max]) => {
      if (cand !== name) return false;
      const v = s[8][metrics.indexOf(metric)];
      if (v === null || v === undefined) return metric === metrics[m] && s[7] !== null;
      if (min === null && max === null) return v < 1;  // no_regression: any sample short of perfect
      return (min !== null && v < min) || (max !== null && v > max);
    });
  }
  function isWorse(s, m) {
    const old = s[11] && s[11][1][m], v = s[8][m];
    if (old === null || old === undefined || v === null) return false;
    return lowerIsBetter[m] ? v > old : v < old;
  }
  function change(s) {
    // "metric old → new (+d)" for each metric the baseline scored, worst first
    return metrics.map((m, k) => [m, s[11][1][k], s[8][k], k]).filter(([, o, v]) => o !== null && v !== null)
      .map(([m, o, v, k]) => [m + " " + fmt(o) + " → " + fmt(v) + " (" + (v - o >= 0 ? "+" : "") + (v - o).toFixed(3) + ")",
        (lowerIsBetter[k] ? o - v : v - o)])
      .sort((a, b) => a[1] - b[1]);
  }
  function filtered() {
    const q = $("f-search").value.trim().toLowerCase();
    const cand = $("f-candidate").value, tag = $("f-tag").value, m = Number($("f-metric").value || 0);
    const below = $("f-below").value === "" ? null : Number($("f-below").value);
    const gate = $("f-gate").checked, errors = $("f-errors").checked, worse = $("f-worse") && $("f-worse").checked;
    const rows = [];
    for (let i = 0; i < samples.length; i++) {
      const s = samples[i], c = D.cases[s[0]];
      if (cand !== "" && s[1] !== Number(cand)) continue;
      if (tag !== "" && !c[4].includes(tag)) continue;
      if (q && !haystack[i].includes(q)) continue;
      if (errors && !(s[7] || (s[9] && s[9].some((n) => n && n.startsWith("error"))))) continue;
      const v = s[8][m];
      if (below !== null && !(v !== null && v < below)) continue;
      if (gate && !failsGate(s, m)) continue;
      if (worse && !isWorse(s, m)) continue;
      rows.push(i);
    }
    const key = {
      case: (i) => samples[i][0], candidate: (i) => samples[i][1], latency: (i) => samples[i][5] ?? Infinity,
      metric: (i) => samples[i][8][m] ?? (state.dir > 0 ? Infinity : -Infinity),
    }[state.sort];
    rows.sort((a, b) => (key(a) < key(b) ? -state.dir : key(a) > key(b) ? state.dir : a - b));
    return rows;
  }
  function render() {
    state.rows = filtered();
    const pages = Math.max(1, Math.ceil(state.rows.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    const m = Number($("f-metric").value || 0);
    $("sort-metric").textContent = metrics[m] + (state.sort === "metric" ? (state.dir > 0 ? " ▲" : " ▼") : "");
    const body = $("cases").tBodies[0];
    body.replaceChildren();
    for (const i of state.rows.slice(state.page * PAGE, state.page * PAGE + PAGE)) {
      const s = samples[i], c = D.cases[s[0]], tr = node("tr");
      tr.dataset.sample = i;
      tr.append(node("td", c[0], "id"), node("td", D.candidates[s[1]]), node("td", c[1]));
      const answer = node("td", s[7] ? "error: " + s[7] : (s[2] || "").slice(0, 160), s[7] ? "err" : "answer");
      const v = s[8][m], score = node("td", s[9] && s[9][m] ? s[9][m].split(":")[0] : fmt(v), "num");
      if (v !== null && (lowerIsBetter[m] ? v > 0.5 : v < 0.5)) score.classList.add("low");
      tr.append(answer, score, node("td", s[5] === null ? "–" : (s[5] * 1000).toFixed(1) + " ms", "num"));
      body.append(tr);
    }
    $("count").textContent = state.rows.length + " of " + samples.length + " samples";
    $("page").textContent = "page " + (state.page + 1) + " of " + pages;
  }
  function highlighted(text, evidence) {
    const span = node("span");
    const at = evidence ? text.indexOf(evidence.slice(0, 80)) : -1;
    if (at < 0) { span.textContent = text; return span; }
    const end = Math.min(text.length, at + evidence.length);
    span.append(text.slice(0, at), node("mark", text.slice(at, end)), text.slice(end));
    return span;
  }
  function detail(i) {
    const c = D.cases[samples[i][0]], box = $("detail");
    box.replaceChildren(node("h3", c[0] + " · " + c[1]));
    if (c[2].length) box.append(node("div", "expected: " + c[2].join("  |  ")));
    if (!c[5]) box.append(node("div", "unanswerable: the right answer is to decline", "skip"));
    if (c[3].length) box.append(node("div", "expected sources: " + c[3].join(", ")));
    if (c[4].length) box.append(node("div", "tags: " + c[4].join(", "), "meta"));
    for (const j of byCase.get(samples[i][0])) {
      const s = samples[j], part = node("div", null, "cand");
      part.append(node("h4", D.candidates[s[1]]));
      part.append(node("div", s[7] ? "error: " + s[7] : s[2], s[7] ? "err" : "answer"));
      if (s[4].length) part.append(node("div", "cites: " + s[4].join(", "), "meta"));
      part.append(node("div", metrics.map((m, k) => m + " " + (s[9] && s[9][k] ? s[9][k] : fmt(s[8][k]))).join(" · "), "scores"));
      if (s[11]) {
        const was = node("div", null, "baseline");
        was.append(node("div", "baseline " + D.baseline[0] + " answered: " + (s[11][0] || "")));
        change(s).forEach(([text, d]) => was.append(node("span", text, d < 0 ? "worse" : d > 0 ? "better" : "same")));
        part.append(was);
      } else if (D.baseline) {
        part.append(node("div", "not in baseline " + D.baseline[0], "meta"));
      }
      const evidence = {};
      (s[10] || []).forEach((claims, k) => (claims || []).forEach(([claim, ok, doc, ev, reason]) => {
        const line = node("div", (ok ? "✓ " : "✗ ") + metrics[k] + ": " + claim + (ok ? "" : " — " + reason),
          "claim " + (ok ? "yes" : "no"));
        part.append(line);
        if (ok && doc && ev) evidence[doc] = ev;
      }));
      s[3].forEach((p) => {
        const [doc, text] = D.passages[p], expected = c[3].includes(doc);
        const box2 = node("div", null, "passage" + (expected ? " expected" : ""));
        box2.append(node("div", doc + (expected ? " (expected source)" : "") + (s[4].includes(doc) ? " · cited" : ""), "id"));
        box2.append(highlighted(text, evidence[doc]));
        part.append(box2);
      });
      box.append(part);
    }
    box.hidden = false;
    box.scrollIntoView({ block: "nearest" });
  }
  for (const id of ["f-search", "f-candidate", "f-tag", "f-metric", "f-below", "f-gate", "f-errors", "f-worse"]) {
    if ($(id)) $(id).addEventListener("input", () => { state.page = 0; render(); });
  }
  $("cases").tHead.addEventListener("click", (e) => {
    const sort = e.target.closest("th") && e.target.closest("th").dataset.sort;
    if (!sort) return;
    state.dir = state.sort === sort ? -state.dir : 1;
    state.sort = sort;
    render();
  });
  $("cases").tBodies[0].addEventListener("click", (e) => {
    const tr = e.target.closest("tr");
    if (tr) detail(Number(tr.dataset.sample));
  });
  $("prev").addEventListener("click", () => { state.page = Math.max(0, state.page - 1); render(); });
  $("next").addEventListener("click", () => { state.page += 1; render(); });
  const tagMetric = $("tag-metric");
  if (tagMetric) tagMetric.addEventListener("input", () => {
    document.querySelectorAll("table.tags").forEach((t) => { t.hidden = t.dataset.metric !== tagMetric.value; });
  });
  render();
  document.body.dataset.ready = "true";  // the explorer is interactive
})();
