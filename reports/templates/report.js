/* hvlm HTML report behaviour. Static file: hashed into the page's Content-Security-Policy.
   Host-supplied strings only ever reach the page through textContent (never parsed as HTML), and the
   only data read is the JSON block #hvlm-data. Works from file:// with no network. */
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js");
  var DATA = JSON.parse(document.getElementById("hvlm-data").textContent);
  var form = document.getElementById("toolbar");
  var viewCheck = document.getElementById("view-check");
  var viewAlt = document.getElementById("view-alt");
  var nothing = document.getElementById("nothing");
  var shown = document.getElementById("shown");
  var cards = Array.prototype.slice.call(viewCheck.querySelectorAll("article.card"));
  var sections = Array.prototype.slice.call(viewCheck.querySelectorAll("section.check"));
  var STATUS_ORDER = ["fail", "error", "warning", "pass", "not_applicable"];
  var LABEL = { fail: "FAIL", error: "ERROR", warning: "WARN", pass: "PASS", not_applicable: "N/A" };
  var SYMBOL = { fail: "\u2717", error: "?", warning: "!", pass: "\u2713", not_applicable: "\u2013" };
  var textCache = new WeakMap();
  var onlyMove = null; /* set by a move's "all findings" link: the move view shows that move only */

  function has(el, attr, n) {
    var v = el.getAttribute(attr);
    return !!v && v.indexOf(" " + n + " ") >= 0;
  }
  function untagged(el) {
    return !el.getAttribute("data-h") && !el.getAttribute("data-m") && !el.getAttribute("data-hl");
  }
  function lowerText(el) {
    var t = textCache.get(el);
    if (t === undefined) {
      t = el.textContent.toLowerCase();
      textCache.set(el, t);
    }
    return t;
  }
  function make(tag, cls, text) {
    var el = document.createElement(tag);
    if (cls) el.className = cls;
    if (text !== undefined) el.textContent = text;
    return el;
  }
  function checkedValues(name) {
    var out = new Set();
    form.querySelectorAll("input[name=" + name + "]:checked").forEach(function (i) { out.add(i.value); });
    return out;
  }
  function current() {
    var view = form.querySelector("input[name=view]:checked");
    return {
      view: view ? view.value : "check",
      status: checkedValues("status"),
      severity: checkedValues("severity"),
      host: form.elements.host.value,
      check: form.elements.check.value,
      q: form.elements.q.value.trim().toLowerCase()
    };
  }
  function cardPasses(card, f) {
    if (!f.status.has(card.getAttribute("data-st"))) return false;
    if (!f.severity.has(card.getAttribute("data-sev"))) return false;
    if (f.check !== "" && card.getAttribute("data-c") !== f.check) return false;
    if (f.host !== "" && !has(card, "data-h", f.host)) return false;
    if (f.q !== "" && lowerText(card).indexOf(f.q) < 0) return false;
    return true;
  }
  function countSubjects(card) {
    var items = card.querySelectorAll("ul.subj > li");
    if (!items.length) return 1;
    var n = 0;
    items.forEach(function (li) { if (!li.hidden) n += 1; });
    return n;
  }

  /* by check: the server-rendered view; filters hide cards, a host filter also hides other subjects */
  function renderCheckView(f) {
    var nCards = 0, nSubjects = 0;
    cards.forEach(function (card) {
      var ok = cardPasses(card, f);
      card.hidden = !ok;
      if (!ok) return;
      card.querySelectorAll(".pr").forEach(function (el) {
        el.hidden = f.host !== "" && !untagged(el) && !has(el, "data-h", f.host);
      });
      nCards += 1;
      nSubjects += countSubjects(card);
    });
    sections.forEach(function (sec) {
      sec.hidden = !sec.querySelector("article.card:not([hidden])");
    });
    return [nCards, nSubjects];
  }

  /* by host / by move: assembled on demand from copies of the cards, each cut down to its group.
     Each card is indexed once: an empty shell to copy, and for each long list (.plist: subjects,
     fixes, evidence rows) which items concern which host or move, so a copy holds only those. */
  var indexes = new WeakMap();
  function tokensOf(el, attr) {
    var v = el.getAttribute(attr);
    return v ? v.trim().split(/\s+/) : [];
  }
  function indexCard(card) {
    var ix = indexes.get(card);
    if (ix) return ix;
    var shell = card.cloneNode(true);
    shell.hidden = false;
    shell.removeAttribute("id");
    shell.querySelectorAll("[id]").forEach(function (e) { e.removeAttribute("id"); });
    shell.querySelectorAll(".plist").forEach(function (l) { l.replaceChildren(); });
    var lists = Array.prototype.map.call(card.querySelectorAll(".plist"), function (l) {
      var e = { items: Array.prototype.slice.call(l.children), h: new Map(), m: new Map(), hl: new Map(), free: [] };
      e.items.forEach(function (item, k) {
        if (untagged(item)) { e.free.push(k); return; }
        [["data-h", e.h], ["data-m", e.m], ["data-hl", e.hl]].forEach(function (pair) {
          tokensOf(item, pair[0]).forEach(function (t) {
            var a = pair[1].get(t);
            if (!a) pair[1].set(t, a = []);
            a.push(k);
          });
        });
      });
      return e;
    });
    ix = { shell: shell, lists: lists };
    indexes.set(card, ix);
    return ix;
  }
  function union(arrays) {
    var seen = new Set();
    arrays.forEach(function (a) { if (a) a.forEach(function (k) { seen.add(k); }); });
    return Array.from(seen).sort(function (a, b) { return a - b; });
  }
  function prune(root, keep) {
    root.querySelectorAll(".pr").forEach(function (x) {
      if (!untagged(x) && !keep(x)) x.remove(); else x.hidden = false;
    });
  }
  function cloneFor(card, pick, keep) {
    var ix = indexCard(card);
    var copy = ix.shell.cloneNode(true);
    prune(copy, keep); /* single subjects and run-on names outside the lists */
    var targets = copy.querySelectorAll(".plist");
    ix.lists.forEach(function (e, i) {
      var frag = document.createDocumentFragment();
      union(pick(e).concat([e.free])).forEach(function (k) {
        var item = e.items[k].cloneNode(true);
        item.hidden = false;
        prune(item, keep);
        frag.appendChild(item);
      });
      targets[i].appendChild(frag);
    });
    var items = copy.querySelectorAll("ul.subj > li");
    var det = copy.querySelector("details.subjects");
    if (det) {
      var sum = det.querySelector("summary");
      if (sum) sum.textContent = items.length + (items.length === 1 ? " subject" : " subjects") + " here";
      det.open = items.length <= 12;
    }
    var more = copy.querySelector("details.more-fixes");
    if (more) {
      var n = more.querySelectorAll(".variant").length;
      if (!n) more.remove(); else more.querySelector("summary").textContent = n + " more fixes";
    }
    var nFix = copy.querySelectorAll(".variant").length;
    var dim = copy.querySelector("section.fix h5 .dim");
    if (dim) dim.textContent = nFix > 1 ? "(" + nFix + " different fixes)" : "";
    var count = copy.querySelector(".count-sub");
    if (count && items.length) count.textContent = items.length + " here";
    return copy;
  }
  function heading(section, verdict, parts) {
    var h = make("h3");
    var b = make("span", "badge st-" + verdict, SYMBOL[verdict] + " " + LABEL[verdict]);
    h.appendChild(b);
    parts.forEach(function (p) { h.appendChild(p); });
    section.appendChild(h);
  }
  function worstOf(list) {
    var best = 99;
    list.forEach(function (c) {
      var r = STATUS_ORDER.indexOf(c.getAttribute("data-st"));
      if (r >= 0 && r < best) best = r;
    });
    return STATUS_ORDER[best] || "not_applicable";
  }
  function renderAltView(f) {
    var matching = cards.filter(function (c) { return cardPasses(c, f); });
    var frag = document.createDocumentFragment();
    var groups = [];
    var nCards = 0, nSubjects = 0, nGroups = 0;
    if (f.view === "host") {
      DATA.shown.forEach(function (name, i) {
        if (f.host !== "" && String(i) !== f.host) return;
        var key = String(i);
        groups.push({
          title: [make("bdi", "", DATA.shown[i])],
          relevant: function (c) { return has(c, "data-h", i); },
          pick: function (e) { return [e.h.get(key)]; },
          keep: function (e) { return has(e, "data-h", i); }
        });
      });
    } else {
      var order = DATA.moves.map(function (m, k) { return k; });
      order.sort(function (a, b) {
        var ra = STATUS_ORDER.indexOf(DATA.moves[a][3]), rb = STATUS_ORDER.indexOf(DATA.moves[b][3]);
        return ra - rb || (DATA.moves[b][2] - DATA.moves[a][2]) || a - b;
      });
      order.forEach(function (k) {
        var mv = DATA.moves[k], no = k + 1, s = mv[0], d = mv[1];
        if (onlyMove !== null && no !== onlyMove) return;
        if (f.host !== "" && String(s) !== f.host && String(d) !== f.host) return;
        var title = [make("bdi", "", DATA.shown[s]), document.createTextNode(" \u2192 "),
          make("bdi", "", DATA.shown[d])];
        if (!mv[2]) title.push(make("span", "ret", "return"));
        groups.push({
          title: title,
          relevant: function (c) { return has(c, "data-m", no) || has(c, "data-hl", s) || has(c, "data-hl", d); },
          pick: function (e) { return [e.m.get(String(no)), e.hl.get(String(s)), e.hl.get(String(d))]; },
          keep: function (e) { return has(e, "data-m", no) || has(e, "data-hl", s) || has(e, "data-hl", d); }
        });
      });
    }
    groups.forEach(function (g) {
      var list = matching.filter(g.relevant);
      if (!list.length) return;
      var sec = make("section", "altgroup");
      heading(sec, worstOf(list), g.title);
      list.forEach(function (c) {
        var copy = cloneFor(c, g.pick, g.keep);
        sec.appendChild(copy);
        nCards += 1;
        nSubjects += countSubjects(copy);
      });
      frag.appendChild(sec);
      nGroups += 1;
    });
    viewAlt.replaceChildren(frag);
    return [nCards, nSubjects, nGroups];
  }

  function render() {
    var f = current();
    var n;
    if (f.view === "check") {
      viewAlt.hidden = true;
      viewAlt.replaceChildren();
      viewCheck.hidden = false;
      n = renderCheckView(f);
    } else {
      viewCheck.hidden = true;
      viewAlt.hidden = false;
      n = renderAltView(f);
    }
    nothing.hidden = n[0] > 0;
    var only = "";
    if (f.view === "move" && onlyMove !== null) {
      var om = DATA.moves[onlyMove - 1];
      only = " for the move " + DATA.shown[om[0]] + " → " + DATA.shown[om[1]] + " only (Reset shows all)";
    }
    shown.textContent = (f.view === "check"
      ? "Showing " + n[0] + " of " + cards.length + " finding groups (" + n[1] + " results)"
      : "Showing " + n[0] + " cards under " + n[2] + " " + f.view + (n[2] === 1 ? "" : "s") + " (" + n[1] +
        " results; a finding about a move appears under both of its hosts, a host's own findings under each of its moves)") +
      only + ".";
    root.setAttribute("data-view", f.view);
  }

  var timer = null;
  form.addEventListener("input", function (ev) {
    if (ev.target && ev.target.name === "q") {
      clearTimeout(timer);
      timer = setTimeout(render, 150);
    }
  });
  form.addEventListener("change", function (ev) {
    if (ev.target && ev.target.name === "view") onlyMove = null;
    if (!ev.target || ev.target.name !== "q") render();
  });
  form.addEventListener("submit", function (ev) { ev.preventDefault(); render(); });

  function setView(v) {
    var r = form.querySelector("input[name=view][value=" + v + "]");
    if (r) r.checked = true;
  }
  function reset() {
    var want = new Set(DATA.defaultStatus);
    form.querySelectorAll("input[name=status]").forEach(function (i) { i.checked = want.has(i.value); });
    form.querySelectorAll("input[name=severity]").forEach(function (i) { i.checked = true; });
    form.elements.host.value = "";
    form.elements.check.value = "";
    form.elements.q.value = "";
    onlyMove = null;
    setView("check");
  }
  function detailsIn(scope) { return document.querySelectorAll(scope + " details"); }
  document.getElementById("reset").addEventListener("click", function () { reset(); render(); });
  document.getElementById("expand").addEventListener("click", function () {
    detailsIn("#findings").forEach(function (d) { d.open = true; });
  });
  document.getElementById("collapse").addEventListener("click", function () {
    detailsIn("#findings").forEach(function (d) { d.open = false; });
  });
  document.getElementById("print").addEventListener("click", function () { window.print(); });

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
    var btn = t.closest("button.copy");
    if (btn) {
      var text = DATA.fixes[Number(btn.getAttribute("data-fix"))];
      if (typeof text !== "string") return;
      copyText(text).then(function () {
        btn.textContent = "Copied";
        btn.classList.add("done");
      }, function () {
        btn.textContent = "Select and copy by hand";
      }).then(function () {
        setTimeout(function () { btn.textContent = "Copy"; btn.classList.remove("done"); }, 2000);
      });
      return;
    }
    var allLink = t.closest("a.all-link");
    if (allLink) {
      ev.preventDefault();
      reset();
      if (allLink.hasAttribute("data-host")) {
        form.elements.host.value = allLink.getAttribute("data-host");
        setView("host");
      } else {
        onlyMove = Number(allLink.getAttribute("data-move"));
        setView("move");
      }
      render();
      document.getElementById("findings").scrollIntoView();
      return;
    }
    var a = t.closest("a[href^='#g']");
    if (a) {
      var id = a.getAttribute("href").slice(1);
      var card = document.getElementById(id);
      if (!card) return;
      var f = current();
      if (f.view !== "check" || card.hidden) {
        ev.preventDefault();
        if (card.hidden) {
          reset();
          var st = form.querySelector("input[name=status][value=" + card.getAttribute("data-st") + "]");
          if (st) st.checked = true;
        }
        setView("check");
        render();
        if (location.hash === "#" + id) card.scrollIntoView(); else location.hash = id;
      }
    }
  });

  /* Print: every detail open, the filters in force written down, then put back as they were. */
  var reopened = [];
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details:not([open])").forEach(function (d) { d.open = true; reopened.push(d); });
    var f = current();
    var st = STATUS_ORDER.filter(function (s) { return f.status.has(s); }).map(function (s) { return LABEL[s]; });
    var parts = ["Printed view: grouped by " + f.view, "status " + (st.join(", ") || "none")];
    if (f.severity.size < 5) parts.push("severity " + Array.from(f.severity).join(", "));
    if (f.host !== "") parts.push("host " + DATA.shown[Number(f.host)]);
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
