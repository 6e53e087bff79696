/* hvlm HTML report behaviour. Static file: hashed into the page's Content-Security-Policy.
   Host-supplied strings only ever reach the page through textContent (never parsed as HTML), and the
   only data read is the JSON block #hvlm-data, whose display strings hvlm already passed through
   visible() (hidden and direction-changing characters shown as ⟦U+XXXX⟧). Copy buttons copy the
   exact original fix. Works from file:// with no network.

   The page holds the problems' first subjects and fixes; this script renders the rest on demand:
   every subject of a group, per-subject evidence, further fixes and rows, and everything about one
   move or host. */
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js");
  var D = JSON.parse(document.getElementById("hvlm-data").textContent);
  var form = document.getElementById("toolbar");
  var nothing = document.getElementById("nothing");
  var shown = document.getElementById("shown");
  var cards = Array.prototype.slice.call(document.querySelectorAll("article.card"));
  var sections = Array.prototype.slice.call(document.querySelectorAll("section.check"));
  var detail = document.getElementById("detail");
  var detailBody = document.getElementById("detail-body");
  var detailHead = document.getElementById("detail-h");
  var STATUS_ORDER = ["fail", "error", "warning", "pass", "not_applicable"];
  var LABEL = { fail: "FAIL", error: "ERROR", warning: "WARN", pass: "PASS", not_applicable: "N/A" };
  var SYMBOL = { fail: "\u2717", error: "?", warning: "!", pass: "\u2713", not_applicable: "\u2013" };
  var PAGE = 1000; /* subjects or evidence rows rendered per click */
  var textCache = new WeakMap();
  var labelCache = [];
  var hostGroups = new Map();

  function make(tag, cls, text) {
    var el = document.createElement(tag);
    if (cls) el.className = cls;
    if (text !== undefined && text !== null) el.textContent = String(text);
    return el;
  }
  function badge(st) {
    var b = make("span", "badge st-" + st);
    var sym = make("span", "", SYMBOL[st]);
    sym.setAttribute("aria-hidden", "true");
    b.appendChild(sym);
    b.appendChild(document.createTextNode(" " + LABEL[st]));
    return b;
  }
  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }
  function lowerText(el) {
    var t = textCache.get(el);
    if (t === undefined) {
      t = el.textContent.toLowerCase();
      textCache.set(el, t);
    }
    return t;
  }
  function labels(gi) { /* lower-case subject labels of a group, for search */
    var l = labelCache[gi];
    if (l === undefined) l = labelCache[gi] = D.groups[gi].k.join("\n").toLowerCase();
    return l;
  }
  function groupsOfHost(h) { /* every group with a member touching host h */
    var s = hostGroups.get(h);
    if (s) return s;
    s = new Set();
    D.groups.forEach(function (g, gi) {
      for (var k = 0; k < g.h.length; k += 1) {
        if (g.h[k].indexOf(h) >= 0) { s.add(gi); break; }
      }
    });
    hostGroups.set(h, s);
    return s;
  }
  function membersFor(gi, host) { /* member indices of a group, all or those touching one host */
    var g = D.groups[gi], out = [];
    for (var k = 0; k < g.k.length; k += 1) {
      if (host === null || g.h[k].indexOf(host) >= 0) out.push(k);
    }
    return out;
  }
  function checkedValues(name) {
    var out = new Set();
    form.querySelectorAll("input[name=" + name + "]:checked").forEach(function (i) { out.add(i.value); });
    return out;
  }
  function current() {
    return {
      status: checkedValues("status"),
      severity: checkedValues("severity"),
      host: form.elements.host.value,
      check: form.elements.check.value,
      q: form.elements.q.value.trim().toLowerCase()
    };
  }

  /* --- subjects, evidence and fixes of one card, from the data ------------------------------- */
  function subjectItem(g, k) {
    var li = make("li");
    li.title = g.i[k];
    li.appendChild(make("bdi", "", g.k[k]));
    if (g.m) li.appendChild(make("span", "smsg", g.m[k]));
    var note = g.w && g.w[k]; /* [expired?, text]: the waiver beside the finding, an expired one loudly */
    if (note) li.appendChild(make(note[0] ? "strong" : "span", note[0] ? "waiver-note waiver-expired" : "waiver-note", note[1]));
    return li;
  }
  function fillSubjects(card, list, start) {
    var gi = Number(card.getAttribute("data-g"));
    var g = D.groups[gi];
    var ul = card.querySelector("ul.subj");
    if (!ul) return;
    var end = Math.min(list.length, start + PAGE);
    var frag = document.createDocumentFragment();
    for (var n = start; n < end; n += 1) frag.appendChild(subjectItem(g, list[n]));
    if (start === 0) ul.replaceChildren(frag); else ul.appendChild(frag);
    var more = card.querySelector("p.more-subj");
    if (!more) {
      more = make("p", "more-subj");
      ul.after(more);
    }
    more.replaceChildren();
    if (end < list.length) {
      var btn = make("button", "show-subjects", "Show " + Math.min(PAGE, list.length - end) + " more");
      btn.type = "button";
      btn.setAttribute("data-from", String(end));
      more.appendChild(btn);
      more.appendChild(make("span", "dim", " " + end + " of " + list.length + " listed"));
    } else {
      more.appendChild(make("span", "dim", list.length === g.k.length ? "All " + list.length + " listed."
        : list.length + " of " + g.k.length + " concern this host."));
    }
    card.setAttribute("data-filled", "1");
  }
  function restoreSubjects(card) { /* back to the page's own first subjects */
    if (!card.hasAttribute("data-filled")) return;
    var g = D.groups[Number(card.getAttribute("data-g"))];
    var n = Math.min(D.inline.subjects, g.k.length);
    var all = [];
    for (var k = 0; k < n; k += 1) all.push(k);
    fillSubjects(card, all, 0);
    var more = card.querySelector("p.more-subj");
    if (more && n < g.k.length) {
      more.replaceChildren();
      var btn = make("button", "show-subjects", "Show all " + g.k.length);
      btn.type = "button";
      more.appendChild(btn);
      more.appendChild(make("span", "dim", " " + n + " of " + g.k.length + " listed here"));
    }
    card.removeAttribute("data-filled");
  }
  function showEvidence(card, start) {
    var gi = Number(card.getAttribute("data-g"));
    var g = D.groups[gi];
    var f = current();
    var list = membersFor(gi, f.host === "" ? null : Number(f.host));
    var det = card.querySelector("details.evidence");
    var box = det.querySelector("div.ev-box");
    if (!box || start === 0) {
      if (box) box.remove();
      box = make("div", "scroll-x ev-box");
      det.appendChild(box);
    }
    var cols = [];
    var seen = new Set();
    list.forEach(function (k) {
      var e = g.e[k] >= 0 ? D.ev[g.e[k]] : {};
      Object.keys(e).forEach(function (c) { if (!seen.has(c)) { seen.add(c); cols.push(c); } });
    });
    var table = box.querySelector("table");
    if (!table) {
      table = make("table", "ev per");
      var head = make("tr");
      head.appendChild(make("th", "", "Subject"));
      cols.forEach(function (c) { head.appendChild(make("th", "", c)); });
      var thead = make("thead");
      thead.appendChild(head);
      table.appendChild(thead);
      table.appendChild(make("tbody"));
      box.appendChild(table);
    }
    var body = table.querySelector("tbody");
    var end = Math.min(list.length, start + PAGE);
    for (var n = start; n < end; n += 1) {
      var k = list[n];
      var e = g.e[k] >= 0 ? D.ev[g.e[k]] : {};
      var tr = make("tr");
      var th = make("th");
      th.setAttribute("scope", "row");
      th.appendChild(make("bdi", "", g.k[k]));
      tr.appendChild(th);
      cols.forEach(function (c) { tr.appendChild(make("td", "", c in e ? e[c] : "")); });
      body.appendChild(tr);
    }
    var old = box.querySelector("p");
    if (old) old.remove();
    if (end < list.length) {
      var p = make("p");
      var btn = make("button", "more-evidence", "Show " + Math.min(PAGE, list.length - end) + " more");
      btn.type = "button";
      btn.setAttribute("data-from", String(end));
      p.appendChild(btn);
      box.appendChild(p);
    }
  }
  function showFixes(card) {
    var g = D.groups[Number(card.getAttribute("data-g"))];
    var box = card.querySelector("section.fix .variants");
    g.v.slice(D.inline.variants).forEach(function (v) {
      var fx = D.fixes[v[0]];
      var div = make("div", "variant");
      div.appendChild(make("p", "fix-sum", fx.s));
      var meta = make("dl", "fix-meta");
      meta.appendChild(make("dt", "", "Run on"));
      var dd = make("dd");
      dd.appendChild(make("bdi", "", v[1].join(", ")));
      dd.appendChild(document.createTextNode(" "));
      dd.appendChild(make("span", "tag", fx.t));
      meta.appendChild(dd);
      meta.appendChild(make("dt", "", "Run as"));
      meta.appendChild(make("dd", "", fx.as));
      div.appendChild(meta);
      div.appendChild(make("p", "for", "For " + plural(v[2], "subject", "subjects") + "."));
      if (fx.off) div.appendChild(make("p", "vmoff", "The VM must be turned off for this change: plan downtime."));
      var code = make("div", "code");
      var h = make("div", "code-h");
      h.appendChild(make("span", "", "PowerShell"));
      var btn = make("button", "copy", "Copy");
      btn.type = "button";
      btn.setAttribute("data-fix", String(v[0]));
      h.appendChild(btn);
      code.appendChild(h);
      var pre = make("pre");
      pre.appendChild(make("code", "", fx.sh !== undefined ? fx.sh : fx.ps));
      code.appendChild(pre);
      div.appendChild(code);
      box.appendChild(div);
    });
    var p = card.querySelector("p.more-fixes");
    if (p) p.remove();
  }

  /* --- filters ---------------------------------------------------------------------------------- */
  function cardPasses(card, f) {
    if (!f.status.has(card.getAttribute("data-st"))) return false;
    if (!f.severity.has(card.getAttribute("data-sev"))) return false;
    if (f.check !== "" && card.getAttribute("data-c") !== f.check) return false;
    var gi = Number(card.getAttribute("data-g"));
    if (f.host !== "" && !groupsOfHost(Number(f.host)).has(gi)) return false;
    if (f.q !== "" && lowerText(card).indexOf(f.q) < 0 && labels(gi).indexOf(f.q) < 0) return false;
    return true;
  }
  function render() {
    var f = current();
    var nCards = 0, nSubjects = 0;
    var host = f.host === "" ? null : Number(f.host);
    cards.forEach(function (card) {
      var ok = cardPasses(card, f);
      card.hidden = !ok;
      if (!ok) return;
      var gi = Number(card.getAttribute("data-g"));
      nCards += 1;
      if (host !== null) {
        var list = membersFor(gi, host);
        nSubjects += list.length;
        fillSubjects(card, list, 0);
      } else {
        nSubjects += D.groups[gi].k.length;
        restoreSubjects(card);
      }
    });
    sections.forEach(function (sec) {
      sec.hidden = !sec.querySelector("article.card:not([hidden])");
    });
    nothing.hidden = nCards > 0 || cards.length === 0;
    shown.textContent = "Showing " + nCards + " of " + cards.length + " finding groups (" +
      plural(nSubjects, "subject", "subjects") + (host !== null ? " concerning " + D.hosts[host] : "") +
      "), the way back included.";
  }

  var timer = null;
  form.addEventListener("input", function (ev) {
    if (ev.target && ev.target.name === "q") {
      clearTimeout(timer);
      timer = setTimeout(render, 150);
    }
  });
  form.addEventListener("change", function (ev) {
    if (!ev.target || ev.target.name !== "q") render();
  });
  form.addEventListener("submit", function (ev) { ev.preventDefault(); render(); });

  function reset() {
    form.querySelectorAll("input[type=checkbox]").forEach(function (i) { i.checked = true; });
    form.elements.host.value = "";
    form.elements.check.value = "";
    form.elements.q.value = "";
  }
  function detailsIn(scope) { return document.querySelectorAll(scope + " details"); }
  document.getElementById("reset").addEventListener("click", function () { reset(); render(); });
  document.getElementById("expand").addEventListener("click", function () {
    detailsIn("#findings").forEach(function (d) { d.open = true; });
    detailsIn("#return").forEach(function (d) { d.open = true; });
  });
  document.getElementById("collapse").addEventListener("click", function () {
    detailsIn("#findings").forEach(function (d) { d.open = false; });
    detailsIn("#return").forEach(function (d) { d.open = false; });
  });
  document.getElementById("print").addEventListener("click", function () { window.print(); });
  document.getElementById("detail-close").addEventListener("click", function () { detail.hidden = true; });

  /* --- rows of moves and hosts beyond the page's first ones ----------------------------------- */
  function reasonList(refs) {
    var ul = make("ul", "reasons");
    refs.slice(0, 3).forEach(function (r) {
      var gi = r[0], n = r[1], st = D.status[gi];
      var li = make("li");
      var a = make("a", "rs st-" + st);
      a.href = "#g" + (gi + 1);
      var sym = make("span", "sym", SYMBOL[st]);
      sym.setAttribute("aria-hidden", "true");
      a.appendChild(sym);
      a.appendChild(make("span", "rt", D.titles[gi]));
      if (n > 1) a.appendChild(make("span", "hint", n + " findings"));
      li.appendChild(a);
      ul.appendChild(li);
    });
    if (refs.length > 3) ul.appendChild(make("li", "more", "and " + (refs.length - 3) + " more"));
    return ul;
  }
  function moveRow(m, planned) {
    var tr = make("tr", "mv st-" + m[3]);
    tr.id = "move-" + m[0];
    tr.setAttribute("data-move", String(m[0]));
    var td = make("td");
    td.appendChild(badge(m[3]));
    tr.appendChild(td);
    var name = make("td", "mvname");
    var s = make("span");
    s.title = D.hosts[m[1]];
    s.appendChild(make("bdi", "", D.hosts[m[1]].split(".")[0]));
    var d = make("span");
    d.title = D.hosts[m[2]];
    d.appendChild(make("bdi", "", D.hosts[m[2]].split(".")[0]));
    name.appendChild(s);
    name.appendChild(document.createTextNode(" \u2192 "));
    name.appendChild(d);
    if (!planned) name.appendChild(make("span", "ret", "back"));
    tr.appendChild(name);
    var why = make("td");
    var ul = reasonList(m[4]);
    var li = make("li", "more");
    var a = make("a", "all-link", "all findings \u2192");
    a.href = "#detail";
    a.setAttribute("data-move", String(m[0]));
    li.appendChild(a);
    ul.appendChild(li);
    why.appendChild(ul);
    tr.appendChild(why);
    return tr;
  }
  function hostRow(h) {
    var tr = make("tr", "st-" + h[1]);
    var td = make("td", "hostname");
    td.appendChild(badge(h[1]));
    td.appendChild(document.createTextNode(" "));
    var a = make("a", "all-link");
    a.href = "#detail";
    a.setAttribute("data-host", String(h[0]));
    a.appendChild(make("bdi", "", D.hosts[h[0]]));
    td.appendChild(a);
    tr.appendChild(td);
    var why = make("td");
    why.appendChild(reasonList(h[2]));
    tr.appendChild(why);
    tr.appendChild(make("td", "num", h[3]));
    return tr;
  }
  function showRows(btn) {
    var id = btn.getAttribute("data-for");
    var body = document.querySelector("#" + id + " tbody");
    var frag = document.createDocumentFragment();
    if (id === "host-table") {
      D.hostRows.slice(D.inline.hosts).forEach(function (h) { frag.appendChild(hostRow(h)); });
    } else {
      var planned = id === "moves";
      (planned ? D.moves : D.back).slice(D.inline.moves).forEach(function (m) { frag.appendChild(moveRow(m, planned)); });
    }
    body.appendChild(frag);
    btn.parentNode.remove();
  }

  /* --- everything about one move or one host ------------------------------------------------ */
  function findingList(entries) {
    var ul = make("ul", "dlist");
    entries.forEach(function (e) {
      var gi = e[0], k = e[1], g = D.groups[gi];
      var li = make("li", "st-" + D.status[gi]);
      li.appendChild(badge(D.status[gi]));
      li.appendChild(document.createTextNode(" "));
      var a = make("a", "", D.titles[gi]);
      a.href = "#g" + (gi + 1);
      li.appendChild(a);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(make("bdi", "dsub", g.k[k]));
      if (g.m) li.appendChild(make("span", "smsg", g.m[k]));
      else {
        var card = document.getElementById("g" + (gi + 1));
        var msg = card ? card.querySelector(".msg") : null;
        if (msg) li.appendChild(make("span", "smsg", msg.textContent));
      }
      ul.appendChild(li);
    });
    return ul;
  }
  function entriesWhere(test) {
    var out = [];
    D.groups.forEach(function (g, gi) {
      for (var k = 0; k < g.h.length; k += 1) if (test(g.h[k], gi)) out.push([gi, k]);
    });
    out.sort(function (a, b) {
      return STATUS_ORDER.indexOf(D.status[a[0]]) - STATUS_ORDER.indexOf(D.status[b[0]]) || a[0] - b[0] || a[1] - b[1];
    });
    return out;
  }
  function findMove(no) {
    var all = D.moves.concat(D.back);
    for (var i = 0; i < all.length; i += 1) if (all[i][0] === no) return all[i];
    return null;
  }
  function openDetail(kind, no) {
    detailBody.replaceChildren();
    if (kind === "host") {
      detailHead.textContent = "Everything about " + D.hosts[no];
      var mine = entriesWhere(function (h, gi) { return !D.groups[gi].x && h.indexOf(no) >= 0; });
      var moves = entriesWhere(function (h, gi) { return D.groups[gi].x && h.indexOf(no) >= 0; });
      detailBody.appendChild(make("h3", "", "Its own problems (" + mine.length + ")"));
      detailBody.appendChild(mine.length ? findingList(mine) : make("p", "ok", "None."));
      detailBody.appendChild(make("h3", "", "Moves to or from it (" + moves.length + " findings)"));
      detailBody.appendChild(moves.length ? findingList(moves) : make("p", "ok", "None."));
    } else {
      var m = findMove(no);
      if (!m) {
        detailHead.textContent = "Move " + no;
        detailBody.appendChild(make("p", "ok", "This move passed every check."));
      } else {
        var s = m[1], d = m[2];
        detailHead.textContent = D.hosts[s] + " \u2192 " + D.hosts[d] + (D.back.indexOf(m) >= 0 ? " (the way back)" : "");
        var pair = entriesWhere(function (h, gi) { return D.groups[gi].x && h[0] === s && h[1] === d; });
        var ends = entriesWhere(function (h, gi) { return !D.groups[gi].x && (h.indexOf(s) >= 0 || h.indexOf(d) >= 0); });
        detailBody.appendChild(make("h3", "", "About this move and its VMs (" + pair.length + ")"));
        detailBody.appendChild(pair.length ? findingList(pair) : make("p", "ok", "None."));
        detailBody.appendChild(make("h3", "", "Problems of its two hosts (" + ends.length + ")"));
        detailBody.appendChild(ends.length ? findingList(ends) : make("p", "ok", "None."));
      }
    }
    detail.hidden = false;
    detail.scrollIntoView();
  }

  /* --- copying fixes ------------------------------------------------------------------------- */
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    return new Promise(function (resolve, reject) {
      var ta = make("textarea");
      ta.value = text;
      ta.setAttribute("readonly", "");
      ta.className = "vh";
      document.body.appendChild(ta);
      ta.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      ta.remove();
      if (ok) resolve(); else reject(new Error("copy refused"));
    });
  }

  document.addEventListener("click", function (ev) {
    var t = ev.target instanceof Element ? ev.target : null;
    if (!t) return;
    var btn = t.closest("button");
    if (btn) {
      var card = btn.closest("article.card");
      if (btn.classList.contains("copy")) {
        var fx = D.fixes[Number(btn.getAttribute("data-fix"))];
        if (!fx || typeof fx.ps !== "string") return;
        copyText(fx.ps).then(function () {
          btn.textContent = "Copied";
          btn.classList.add("done");
        }, function () {
          btn.textContent = "Select and copy by hand";
        }).then(function () {
          setTimeout(function () { btn.textContent = "Copy"; btn.classList.remove("done"); }, 2000);
        });
      } else if (btn.classList.contains("show-subjects") && card) {
        var f = current();
        var list = membersFor(Number(card.getAttribute("data-g")), f.host === "" ? null : Number(f.host));
        fillSubjects(card, list, Number(btn.getAttribute("data-from") || 0));
      } else if (btn.classList.contains("show-evidence") && card) {
        btn.parentNode.remove();
        showEvidence(card, 0);
      } else if (btn.classList.contains("more-evidence") && card) {
        showEvidence(card, Number(btn.getAttribute("data-from")));
      } else if (btn.classList.contains("show-fixes") && card) {
        showFixes(card);
      } else if (btn.classList.contains("show-rows")) {
        showRows(btn);
      }
      return;
    }
    var allLink = t.closest("a.all-link");
    if (allLink) {
      ev.preventDefault();
      if (allLink.hasAttribute("data-host")) openDetail("host", Number(allLink.getAttribute("data-host")));
      else openDetail("move", Number(allLink.getAttribute("data-move")));
      return;
    }
    var cell = t.closest("#matrix td.cell[data-move] a");
    if (cell) {
      var no = Number(cell.parentNode.getAttribute("data-move"));
      if (!document.getElementById("move-" + no)) {
        ev.preventDefault();
        openDetail("move", no);
      }
      return;
    }
    var a = t.closest("a[href^='#g']");
    if (a) {
      var id = a.getAttribute("href").slice(1);
      var target = document.getElementById(id);
      if (!target) return;
      if (target.hidden || (target.parentNode && target.parentNode.hidden)) {
        ev.preventDefault();
        reset();
        render();
        if (location.hash === "#" + id) target.scrollIntoView(); else location.hash = id;
      }
    }
  });

  /* Print: every detail open, the filters in force written down, then put back as they were. */
  var reopened = [];
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details:not([open])").forEach(function (d) { d.open = true; reopened.push(d); });
    var f = current();
    var st = STATUS_ORDER.filter(function (s) { return f.status.has(s); }).map(function (s) { return LABEL[s]; });
    var parts = ["Printed view: status " + (st.join(", ") || "none")];
    if (f.severity.size < 5) parts.push("severity " + Array.from(f.severity).join(", "));
    if (f.host !== "") parts.push("host " + D.hosts[Number(f.host)]);
    if (f.check !== "") parts.push("check " + form.elements.check.selectedOptions[0].textContent);
    if (f.q !== "") parts.push("search \u201c" + f.q + "\u201d");
    document.getElementById("print-filter").textContent = parts.join("; ") + ". " + shown.textContent;
  });
  window.addEventListener("afterprint", function () {
    reopened.forEach(function (d) { d.open = false; });
    reopened = [];
  });

  render();
  root.setAttribute("data-ready", "1");
})();
