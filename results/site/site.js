// The results site: draws window.SITE_DATA (data.js) into the page. Plain DOM, no libraries,
// no requests: everything it shows is in data.js, which sgpt-eval writes from results/.
"use strict";

const DATA = window.SITE_DATA;
const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

function svgEl(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function fixed(value, digits, signed) {
  if (value === null || value === undefined) return "–";
  return (signed && value >= 0 ? "+" : "") + value.toFixed(digits);
}

function keyValueTable(object) {
  const table = el("table");
  for (const [key, value] of Object.entries(object || {})) {
    const shown = value !== null && typeof value === "object" ? JSON.stringify(value) : String(value);
    table.append(el("tr", {}, el("th", {}, key), el("td", {}, shown)));
  }
  return table;
}

// --- the tables -----------------------------------------------------------------------------

function drawTables() {
  const section = document.getElementById("tables");
  for (const table of DATA.tables) {
    const digits = table.scale === 100 ? 2 : 4;
    const head = el("tr", {}, el("th", {}, table.id === "useb" ? "model" : "dataset"));
    for (const column of table.columns) {
      head.append(el("th", {}, column.name, ...(column.name === table.baseline ? [el("span", { class: "sub" }, "baseline")] : [])));
    }
    if (table.id === "useb") head.append(el("th", {}, "source"));
    const body = el("tbody");
    for (const row of table.rows) {
      const tr = el("tr", { class: row.average ? "average" : "" }, el("th", {}, row.label));
      row.cells.forEach((cell, i) => tr.append(drawCell(table, table.columns[i], cell, digits)));
      if (table.id === "useb") tr.append(el("td", { class: "notes" }, row.source));
      body.append(tr);
    }
    const notes = el("ul", { class: "notes" }, ...table.notes.map((note) => el("li", {}, note)));
    section.append(el("h2", {}, table.title), el("table", { id: "table-" + table.id }, el("thead", {}, head), body), notes);
  }
}

function drawCell(table, column, cell, digits) {
  const text = fixed(cell.value, digits, column.kind === "delta");
  const td = el("td", { class: "num " + column.kind });
  if (cell.value !== null) td.setAttribute("data-value", String(cell.value));
  if (!cell.run || column.kind === "delta") {
    td.append(text);
  } else {
    const run = DATA.runs[cell.run];
    td.classList.add("ours");
    td.append(el("a", { href: "#run=" + cell.run, "data-run": cell.run, title: "open this run" }, text));
    if (run.regression) td.append(el("span", { class: "badge " + run.regression.replace(" ", ""), title: "regression baseline" }, run.regression));
  }
  if (cell.stats) td.append(...cellStatistics(table, cell.stats));
  return td;
}

// Under a cell of ours: its test against the baseline column, its 95% interval, judged@10 with the
// optimistic bound, and why anything is missing (the table's notes say how each is computed).
function cellStatistics(table, stats) {
  const lines = [];
  const digits = table.scale === 100 ? 2 : 3;
  if (stats.same !== null) {
    const p = `Holm-corrected p = ${stats.pvalue.toPrecision(3)} against ${table.baseline}`;
    lines.push(stats.same
      ? el("span", { class: "test same", title: `cannot be told apart from ${table.baseline}: ${p} >= ${table.level}` }, `≈ ${table.baseline}`)
      : el("span", { class: "test differs", title: `differs from ${table.baseline}: ${p} < ${table.level}` }, `≠ ${table.baseline}`));
  }
  if (stats.interval_95) {
    lines.push(el("span", { class: "sub interval", title: "95% percentile bootstrap interval (the notes below the table say of what)" },
      `[${stats.interval_95[0].toFixed(digits)}, ${stats.interval_95[1].toFixed(digits)}]`));
  }
  if (stats.judged_at_10 !== null) {
    lines.push(el("span", { class: "sub judged", title: "share of the top 10 the judgements judge; NDCG@10 with every unjudged document counted relevant" },
      `judged ${fixed(stats.judged_at_10, 3)} · bound ${fixed(stats.optimistic_ndcg_at_10, 3)}`));
  }
  if (stats.note) lines.push(el("span", { class: "sub pending" }, stats.note));
  return lines;
}

function drawRegression() {
  const baselines = DATA.regression.baselines;
  const banner = document.getElementById("regression");
  if (!baselines.length) {
    banner.textContent = "Regression: " + (DATA.regression.note || "no baselines");
    return;
  }
  const failed = baselines.filter((b) => b.status !== "met");
  banner.className = "banner " + (failed.length ? "fail" : "ok");
  banner.textContent = `Regression: ${baselines.length - failed.length} of ${baselines.length} baselines met` +
    failed.map((b) => ` · not met: ${b.baseline} (${b.message})`).join("");
}

// --- one run --------------------------------------------------------------------------------

function showRun(id) {
  const run = DATA.runs[id];
  const section = document.getElementById("run");
  if (!run) {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  document.getElementById("run-title").textContent = `${run.system} on ${run.dataset_label}: ${run.main_metric} ${run.main_score.toFixed(4)}`;
  const body = document.getElementById("run-body");
  body.replaceChildren(
    el("h3", {}, "Reproduce this cell"),
    run.command ? el("pre", { id: "run-command" }, run.command) : el("p", { id: "run-command", class: "pending" }, run.command_note),
    el("p", { class: "notes" }, "Built from the run's identity. Recorded command line: ", el("code", {}, run.recorded_command)),
    el("h3", {}, "Statistics"), drawStatistics(run),
    el("h3", {}, "Settings"), keyValueTable(run.configuration),
    el("h3", {}, "Timings (s)"), keyValueTable(run.timings_s),
    el("h3", {}, "Per query"), drawPerQuery(run),
    el("h3", {}, "Identity"), el("pre", { id: "run-identity" }, JSON.stringify(run.identity, null, 1)),
    el("h3", {}, "How it ran"), keyValueTable({ ...run.details, report: run.path, created: run.created }),
    el("h3", {}, "Versions"), keyValueTable(run.versions),
  );
  section.scrollIntoView();
}

function drawStatistics(run) {
  const stats = run.statistics;
  const missing = "not in this report (`sgpt-eval annotate` adds it)";
  const table = keyValueTable({
    [run.main_metric]: run.main_score.toFixed(4),
    "95% interval": stats.interval_95
      ? `[${fixed(stats.interval_95[0], 4)}, ${fixed(stats.interval_95[1], 4)}] (percentile bootstrap, ${stats.resamples} resamples of the ${stats.interval_over}, seed ${stats.seed})`
      : "none: " + stats.interval_note,
    "judged@10": stats.judged_at_10 === null || stats.judged_at_10 === undefined ? missing : fixed(stats.judged_at_10, 4),
    "optimistic NDCG@10 (unjudged counted relevant)": stats.optimistic_ndcg_at_10 === null || stats.optimistic_ndcg_at_10 === undefined
      ? missing : fixed(stats.optimistic_ndcg_at_10, 4),
    "parameters (M)": run.parameters_m === null ? "–" : run.parameters_m,
    throughput: run.throughput ? `${run.throughput.value.toFixed(1)} ${run.throughput.unit} (${run.throughput.device})` : "–",
    regression: run.regression || "no baseline",
  });
  table.id = "run-statistics";
  return table;
}

function drawPerQuery(run) {
  const wrap = el("div");
  if (run.top_note) wrap.append(el("p", { class: "notes" }, "Top ten: " + run.top_note));
  wrap.append(el("p", { class: "notes" }, "Documents: ", el("span", { class: "doc rel" }, "relevant"), " ",
    el("span", { class: "doc nonrel" }, "judged non-relevant"), " ", el("span", { class: "doc unjudged" }, "unjudged")));
  const table = el("table", { id: "per-query" },
    el("tr", {}, el("th", {}, "query"), el("th", {}, run.main_metric), el("th", {}, "judged in top 10"), el("th", {}, "top ten documents")));
  const texts = run.texts;
  for (const [qid, score] of Object.entries(run.per_query)) {
    const docs = (run.top && run.top[qid]) || [];
    const judged = run.top_note ? "–" : `${docs.filter((d) => d[1] !== null).length}/${docs.length}`;
    const cell = el("td");
    for (const [doc, grade] of docs) {
      const kind = run.top_note ? "unknown" : grade === null ? "unjudged" : grade > 0 ? "rel" : "nonrel";
      const text = texts && texts.documents[doc];
      cell.append(el("span", { class: "doc " + kind, title: text ? `${text.title}\n${text.text}` : kind }, doc));
    }
    const query = el("th", { "data-query": qid }, qid);
    if (texts) query.setAttribute("title", texts.queries[qid]);
    table.append(el("tr", {}, query, el("td", { class: "num" }, el("span", { class: "bar", style: `width:${Math.round(score * 60)}px` }), " ", score.toFixed(4)),
      el("td", { class: "num" }, judged), cell));
  }
  wrap.append(table);
  return wrap;
}

// --- two systems ----------------------------------------------------------------------------

function beirRuns(dataset) {
  return Object.values(DATA.runs).filter((run) => run.benchmark === "beir" && (!dataset || run.dataset === dataset));
}

function fillSelect(select, options, chosen) {
  select.replaceChildren(...options.map(([value, text]) => el("option", { value }, text)));
  if (chosen !== undefined) select.value = chosen;
}

function setupCompare() {
  const datasets = [...new Set(beirRuns().map((run) => run.dataset))];
  const pick = document.getElementById("cmp-dataset");
  fillSelect(pick, datasets.map((d) => [d, d]));
  const onDataset = () => {
    const runs = beirRuns(pick.value).map((run) => [run.id, run.system]);
    fillSelect(document.getElementById("cmp-a"), runs, runs[0] && runs[0][0]);
    fillSelect(document.getElementById("cmp-b"), runs, runs[1] ? runs[1][0] : runs[0] && runs[0][0]);
    drawComparison();
  };
  pick.addEventListener("change", onDataset);
  document.getElementById("cmp-a").addEventListener("change", drawComparison);
  document.getElementById("cmp-b").addEventListener("change", drawComparison);
  onDataset();
}

// The pair's statistics as A against B; the data holds each pair once, in one order.
function pairStatistics(a, b) {
  const stored = DATA.comparisons[`${a}|${b}`];
  if (stored) return stored;
  const mirror = DATA.comparisons[`${b}|${a}`];
  if (!mirror) return null;
  const interval = mirror.difference_interval;
  return { ...mirror, a, b, name_a: mirror.name_b, name_b: mirror.name_a, mean_a: mirror.mean_b, mean_b: mirror.mean_a,
    wins: mirror.losses, losses: mirror.wins, mean_difference: -mirror.mean_difference,
    difference_interval: { low: -interval.high, high: -interval.low }, drift: mirrorDrift(mirror.drift) };
}

// The drift diagnosis read from B to A: every A/B pair swapped, every change negated.
function mirrorDrift(drift) {
  if (!drift.path_a) return drift;
  const swap = (change) => ({ ...change, a: change.b, b: change.a, absent: { a: "b", b: "a" }[change.absent] || null });
  const perQuery = drift.per_query && { ...drift.per_query, only_a: drift.per_query.only_b, only_b: drift.per_query.only_a,
    up: drift.per_query.down, down: drift.per_query.up, mean_a: drift.per_query.mean_b, mean_b: drift.per_query.mean_a,
    largest: drift.per_query.largest.map((q) => ({ ...q, a: q.b, b: q.a, change: -q.change })) };
  const agreement = drift.rank_agreement && { ...drift.rank_agreement, only_a: drift.rank_agreement.only_b,
    only_b: drift.rank_agreement.only_a };
  return { ...drift, path_a: drift.path_b, path_b: drift.path_a, name_a: drift.name_b, name_b: drift.name_a,
    identity: drift.identity.map(swap), numeric_versions: drift.numeric_versions.map(swap), other: drift.other.map(swap),
    per_query: perQuery, rank_agreement: agreement };
}

function drawComparison() {
  const a = DATA.runs[document.getElementById("cmp-a").value];
  const b = DATA.runs[document.getElementById("cmp-b").value];
  const summary = document.getElementById("cmp-summary");
  const scatter = document.getElementById("cmp-scatter");
  const drift = document.getElementById("cmp-drift");
  if (!a || !b || a.id === b.id) {
    summary.textContent = "Choose two different systems.";
    scatter.replaceChildren();
    drift.replaceChildren();
    return;
  }
  const stats = pairStatistics(a.id, b.id);
  summary.replaceChildren(keyValueTable({
    A: a.system, B: b.system, "queries compared": stats.queries + (stats.intersected ? " (the queries both have)" : ""),
    [`mean ${DATA.metric} A / B`]: `${stats.mean_a.toFixed(4)} / ${stats.mean_b.toFixed(4)}`,
    "A - B": `${fixed(stats.mean_difference, 4, true)}, 95% interval [${fixed(stats.difference_interval.low, 4, true)}, ` +
      `${fixed(stats.difference_interval.high, 4, true)}] (paired bootstrap, ${stats.resamples} resamples of the queries)`,
    "A better / B better / tied": `${stats.wins} / ${stats.losses} / ${stats.ties}`,
    "paired randomization test p": `${stats.randomization_pvalue.toPrecision(3)} (${stats.permutations} sign flips)`,
    "paired t-test p": stats.t_pvalue === null ? "n/a" : stats.t_pvalue.toPrecision(3),
  }));
  summary.firstChild.id = "cmp-table";
  const points = Object.keys(a.per_query).filter((q) => q in b.per_query)
    .map((q) => ({ x: a.per_query[q], y: b.per_query[q], label: q }));
  scatter.replaceChildren(scatterPlot(points, `${DATA.metric} of A per query`, `${DATA.metric} of B per query`,
    { diagonal: true, id: "cmp-plot" }));
  drift.replaceChildren(el("h3", {}, "Drift diagnosis (sgpt-eval diff A B)"), ...drawDrift(stats.drift));
}

// `sgpt-eval diff`'s diagnosis, causes first: what differs in the identities, in the libraries that
// move numbers and in how the two ran; then which queries moved and how far the rankings agree.
function drawDrift(drift) {
  if (!drift.path_a) return [el("p", { class: "pending" }, drift.note)];
  const same = drift.numeric_same && Object.keys(drift.numeric_same).length
    ? el("p", { class: "notes" }, "The same in both: " + Object.entries(drift.numeric_same).map(([k, v]) => `${k} ${v}`).join(", "))
    : "";
  return [
    el("p", { class: "notes" }, `A: ${drift.path_a} · B: ${drift.path_b}`),
    el("h4", {}, "Identity"), changeTable(drift.identity),
    el("h4", {}, "Libraries that move numbers"), changeTable(drift.numeric_versions), same,
    el("h4", {}, "How they ran otherwise (versions, hardware, device, harness commit)"), changeTable(drift.other),
    el("h4", {}, "Per query, B against A"), drawQueryChanges(drift.per_query),
    el("h4", {}, "Rank agreement"), drawAgreement(drift.rank_agreement),
  ];
}

// A value as `sgpt-eval diff` prints it: a sha256 cut to 12 characters, other strings as they are, else JSON.
function shown(value, absent) {
  if (absent) return "(absent)";
  if (typeof value === "string") return /^[0-9a-f]{64}$/.test(value) ? value.slice(0, 12) + "…" : value;
  return JSON.stringify(value);
}

function changeTable(changes) {
  if (!changes.length) return el("p", { class: "notes" }, "the same");
  const table = el("table", {}, el("tr", {}, el("th", {}, "field"), el("th", {}, "A"), el("th", {}, "B")));
  for (const change of changes) {
    table.append(el("tr", {}, el("th", {}, change.path), el("td", {}, shown(change.a, change.absent === "a")),
      el("td", {}, shown(change.b, change.absent === "b"))));
  }
  return table;
}

function drawQueryChanges(changes) {
  if (!changes) return el("p", { class: "notes" }, "none to compare (a report without per-query scores, or no query in common)");
  const wrap = el("div", { id: "cmp-query-changes" }, el("p", {},
    `${changes.metric} over the ${changes.queries} queries both score: ${changes.up} up, ${changes.down} down, ${changes.same} the same; ` +
    `mean ${changes.mean_a.toFixed(4)} → ${changes.mean_b.toFixed(4)} (${fixed(changes.mean_b - changes.mean_a, 4, true)})` +
    (changes.only_a || changes.only_b ? `; scored by one only: ${changes.only_a} by A, ${changes.only_b} by B` : "")));
  if (changes.largest.length) {
    const table = el("table", {}, el("tr", {}, el("th", {}, "query"), el("th", {}, "A"), el("th", {}, "B"), el("th", {}, "B - A")));
    for (const q of changes.largest) {
      table.append(el("tr", {}, el("th", {}, q.query), el("td", { class: "num" }, q.a.toFixed(4)),
        el("td", { class: "num" }, q.b.toFixed(4)), el("td", { class: "num" }, fixed(q.change, 4, true))));
    }
    wrap.append(el("p", { class: "notes" }, "The largest changes:"), table);
  }
  return wrap;
}

function drawAgreement(agreement) {
  if (!agreement) return el("p", { class: "notes" }, "no rankings beside these reports");
  const table = el("table", { id: "cmp-agreement" }, el("tr", {}, el("th", {}, "depth"), el("th", {}, "Kendall's tau-b"),
    el("th", {}, "queries (tau defined)"), el("th", {}, `RBO_EXT (p = ${agreement.rbo_p})`)));
  for (const level of agreement.depths) {
    table.append(el("tr", {}, el("th", {}, `top ${level.depth}`), el("td", { class: "num" }, fixed(level.kendall_tau, 4)),
      el("td", { class: "num" }, level.tau_queries), el("td", { class: "num" }, fixed(level.rbo, 4))));
  }
  const only = agreement.only_a || agreement.only_b ? ` (${agreement.only_a} ranked by A only, ${agreement.only_b} by B only)` : "";
  return el("div", {}, el("p", { class: "notes" }, `Mean over the ${agreement.queries} queries both rank${only}: ` +
    "Kendall's tau-b over the union of the two top-k lists (a document missing from one tied after its last rank), " +
    "rank-biased overlap extrapolated."), table);
}

// --- plots ----------------------------------------------------------------------------------

// A scatter plot of points {x, y, label}: linear axes from 0 to 1 with `diagonal`, else a log x axis.
function scatterPlot(points, xTitle, yTitle, options) {
  // A labelled plot keeps room on its right for the labels of the rightmost points.
  const width = options.diagonal ? 460 : 720, height = 340, pad = 48, right = options.diagonal ? pad : 220;
  const svg = svgEl("svg", { width, height, id: options.id });
  const logX = !options.diagonal;
  const xs = points.map((p) => (logX ? Math.log10(p.x) : p.x));
  const [x0, x1] = logX ? [Math.floor(Math.min(...xs)), Math.ceil(Math.max(...xs)) || 1] : [0, 1];
  const sx = (v) => pad + ((logX ? Math.log10(v) : v) - x0) / ((x1 - x0) || 1) * (width - pad - right);
  const sy = (v) => height - pad - v * (height - 2 * pad);
  svg.append(svgEl("line", { x1: pad, y1: sy(0), x2: width - right, y2: sy(0), stroke: "#999" }),
    svgEl("line", { x1: pad, y1: sy(0), x2: pad, y2: sy(1), stroke: "#999" }),
    svgEl("text", { x: (width - right + pad) / 2, y: height - 8, "text-anchor": "middle" }, xTitle),
    svgEl("text", { x: 12, y: height / 2, transform: `rotate(-90 12 ${height / 2})`, "text-anchor": "middle" }, yTitle));
  for (const tick of [0, 0.5, 1]) svg.append(svgEl("text", { x: pad - 6, y: sy(tick) + 4, "text-anchor": "end" }, tick));
  for (let t = x0; t <= x1; t += logX ? 1 : 0.5) {
    svg.append(svgEl("text", { x: sx(logX ? 10 ** t : t), y: sy(0) + 16, "text-anchor": "middle" }, logX ? String(10 ** t) : t));
  }
  if (options.diagonal) svg.append(svgEl("line", { x1: sx(0), y1: sy(0), x2: sx(1), y2: sy(1), stroke: "#bbb", "stroke-dasharray": "4" }));
  for (const p of points) {
    const colour = !options.diagonal ? "#4a7bd0" : p.y > p.x + 1e-9 ? "#d0704a" : p.x > p.y + 1e-9 ? "#4a7bd0" : "#999";
    const dot = svgEl("circle", { cx: sx(p.x), cy: sy(p.y), r: 4, fill: colour, "fill-opacity": 0.6, "data-label": p.label });
    dot.append(svgEl("title", {}, `${p.label}: ${p.x.toPrecision(3)}, ${p.y.toFixed(4)}`));
    svg.append(dot);
    if (!options.diagonal) svg.append(svgEl("text", { x: sx(p.x) + 6, y: sy(p.y) - 6 }, p.label));
  }
  if (options.diagonal) {
    svg.append(svgEl("text", { x: pad + 6, y: pad - 8, fill: "#d0704a" }, "above the diagonal: B better"),
      svgEl("text", { x: width - pad, y: height - pad - 8, fill: "#4a7bd0", "text-anchor": "end" }, "below: A better"));
  }
  return svg;
}

function drawPlots() {
  const runs = beirRuns();
  const label = (run) => `${run.system} (${run.dataset_label})`;
  const sized = runs.filter((run) => run.parameters_m).map((run) => ({ x: run.parameters_m, y: run.main_score, label: label(run) }));
  const timed = runs.filter((run) => run.throughput).map((run) => ({ x: run.throughput.value, y: run.main_score,
    label: `${label(run)}: ${run.throughput.unit.split(" ")[0]}` }));
  document.getElementById("plot-size").replaceChildren(sized.length
    ? scatterPlot(sized, "parameters (millions, log scale)", DATA.metric, { id: "plot-size-svg" })
    : el("p", {}, "No run of a model whose size is known."));
  document.getElementById("plot-speed").replaceChildren(timed.length
    ? scatterPlot(timed, "items per second of the main stage (log scale)", DATA.metric, { id: "plot-speed-svg" })
    : el("p", {}, "No run whose timings give a throughput."),
    el("p", { class: "notes" }, "Throughput from each report's timings on the hardware it ran on: documents encoded per second " +
      "(dense), query-document pairs scored per second (rerank), documents indexed per second (BM25). Runs that read a cache are left out."));
}

// --- start ----------------------------------------------------------------------------------

function route() {
  const match = location.hash.match(/^#run=(\w+)$/);
  showRun(match ? match[1] : null);
}

document.getElementById("generator").textContent =
  `Built by ${DATA.generator} from the reports under results/. ${DATA.texts_included ? "Includes query and document texts." : "No query or document text is included."}`;
drawRegression();
drawTables();
setupCompare();
drawPlots();
window.addEventListener("hashchange", route);
route();
