/* Progressive enhancement of the portal's pages (no framework, no build step).
   Every page works without this file: forms post, links download, sessions end on the server.
   With it: the idle warning with "Continuar", a progress message while a report is prepared,
   the allowed ranges of the chosen credit product, and Escape closing the member's tab. */
(function () {
  "use strict";

  // --- Idle warning -------------------------------------------------------------------------
  // The auth service ends a session after AUTH_IDLE_MINUTES without use (data-idle-seconds).
  // Its clock starts no later than this page was served, so when ours runs out the server's has
  // too: the page is then asked again, and the server sends it to /login with the notice and
  // the way back. Other tabs of the portal share the last activity through localStorage.
  var ACTIVITY_KEY = "portal.lastActivity";
  var GRACE_MS = 5000;

  function readActivity() {
    try {
      return parseInt(window.localStorage.getItem(ACTIVITY_KEY) || "0", 10) || 0;
    } catch (e) {
      return 0; // storage disabled: this tab only
    }
  }

  function writeActivity(time) {
    try {
      window.localStorage.setItem(ACTIVITY_KEY, String(time));
    } catch (e) { /* storage disabled */ }
  }

  function minutesSeconds(ms) {
    var total = Math.max(0, Math.ceil(ms / 1000));
    var seconds = total % 60;
    return Math.floor(total / 60) + ":" + (seconds < 10 ? "0" : "") + seconds;
  }

  function reloadHere() {
    window.location.assign(window.location.pathname + window.location.search);
  }

  function idleWarning(idleSeconds, dialog) {
    var idleMs = idleSeconds * 1000;
    var warnMs = Math.min(120000, idleMs / 2);
    var lastHere = Date.now();
    var dismissedAt = 0;
    var countdown = dialog.querySelector("[data-countdown]");
    var form = dialog.querySelector("form");
    var timer;
    writeActivity(lastHere);

    function latest() {
      return Math.max(lastHere, readActivity());
    }

    function show() {
      if (typeof dialog.showModal === "function") {
        dialog.showModal();
      } else {
        dialog.setAttribute("open", "");
      }
      var button = dialog.querySelector("button");
      if (button) button.focus();
    }

    function hide() {
      if (typeof dialog.close === "function" && dialog.open) dialog.close();
      dialog.removeAttribute("open");
    }

    function tick() {
      var last = latest();
      var left = last + idleMs - Date.now();
      if (left <= -GRACE_MS) {
        window.clearInterval(timer);
        reloadHere();
        return;
      }
      if (countdown) countdown.textContent = minutesSeconds(left);
      if (left <= warnMs && dismissedAt !== last) {
        if (!dialog.open) show();
      } else if (left > warnMs && dialog.open) {
        hide(); // another tab kept the session alive
      }
    }

    // Escape closes the dialog: the member saw it; it comes back only after new activity
    dialog.addEventListener("cancel", function () {
      dismissedAt = latest();
    });

    form.addEventListener("submit", function (event) {
      if (!window.fetch || !window.URLSearchParams) return; // plain post, the server returns here
      event.preventDefault();
      window
        .fetch(form.action, {
          method: "POST",
          body: new URLSearchParams(new FormData(form)),
          credentials: "same-origin",
          redirect: "manual",
          headers: { "X-Requested-With": "fetch" },
        })
        .then(
          function (answer) {
            if (answer.status === 204) {
              lastHere = Date.now();
              writeActivity(lastHere);
              hide();
            } else {
              reloadHere(); // the session had already ended: the server explains at /login
            }
          },
          function () { /* network failure: the dialog stays, the member may try again */ }
        );
    });

    timer = window.setInterval(tick, 1000);
  }

  // --- Reports: "Preparando su reporte…" ------------------------------------------------------
  // A link with data-report="<id of a role=status element>" downloads a PDF that may take
  // seconds to render. With fetch the page says so while it waits, then saves the file; on any
  // surprise (an error page, an ended session) the browser simply follows the link.
  function filenameOf(answer, fallback) {
    // filename*=UTF-8''tabla-amortizacion-CR-100234-02.pdf (RFC 6266) or filename="x.pdf"
    var header = answer.headers.get("Content-Disposition") || "";
    var encoded = /filename\*=UTF-8''([^;\s]+)/i.exec(header);
    if (encoded) {
      try {
        return decodeURIComponent(encoded[1]);
      } catch (e) { /* badly encoded: try the plain form */ }
    }
    var plain = /filename=(?:"([^"]+)"|([^;\s]+))/i.exec(header);
    return plain ? plain[1] || plain[2] : fallback;
  }

  function setStatus(status, busy, text) {
    while (status.firstChild) status.removeChild(status.firstChild);
    if (busy) {
      var bar = document.createElement("progress");
      bar.setAttribute("aria-label", text);
      status.appendChild(bar);
      status.appendChild(document.createTextNode(" "));
    }
    status.appendChild(document.createTextNode(text));
  }

  function prepareReport(link, status) {
    link.setAttribute("aria-busy", "true");
    link.classList.add("is-busy");
    setStatus(status, true, "Preparando su reporte…");
    function done(text) {
      link.removeAttribute("aria-busy");
      link.classList.remove("is-busy");
      setStatus(status, false, text);
    }
    window.fetch(link.href, { credentials: "same-origin" }).then(
      function (answer) {
        var type = answer.headers.get("Content-Type") || "";
        if (!answer.ok || answer.redirected || type.indexOf("application/pdf") !== 0) {
          done("");
          window.location.assign(answer.redirected ? answer.url : link.href);
          return;
        }
        return answer.blob().then(function (blob) {
          var url = window.URL.createObjectURL(blob);
          var save = document.createElement("a");
          save.href = url;
          save.download = filenameOf(answer, "reporte.pdf");
          save.hidden = true;
          document.body.appendChild(save);
          save.click();
          document.body.removeChild(save);
          window.setTimeout(function () { window.URL.revokeObjectURL(url); }, 60000);
          done("Su reporte está listo.");
        });
      },
      function () {
        done("No se pudo preparar el reporte. Intente nuevamente.");
      }
    );
  }

  function reportLinks() {
    document.addEventListener("click", function (event) {
      var link = event.target.closest ? event.target.closest("a[data-report]") : null;
      if (!link || !window.fetch || !window.URL || !window.URL.createObjectURL) return;
      if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) {
        return; // a new tab or window: the browser's own download
      }
      var status = document.getElementById(link.getAttribute("data-report"));
      if (!status) return;
      event.preventDefault();
      if (link.getAttribute("aria-busy") !== "true") prepareReport(link, status);
    });
  }

  // --- Credit forms: the ranges of the chosen product -----------------------------------------
  // Each <option> carries its product's hints (data-amount-hint, data-term-hint); the server
  // already wrote those of the selected product, this only follows a new choice.
  function productHints() {
    var select = document.getElementById("product_code");
    if (!select) return;
    select.addEventListener("change", function () {
      var option = select.options[select.selectedIndex];
      [["amount-hint", "data-amount-hint"], ["term_months-hint", "data-term-hint"]].forEach(
        function (pair) {
          var hint = document.getElementById(pair[0]);
          var range = hint && (hint.querySelector(".hint-range") || hint);
          var text = option && option.getAttribute(pair[1]);
          if (range && text) range.textContent = text;
        }
      );
    });
  }

  // --- The member's tab (name, top right): Escape closes it -----------------------------------
  function userTab() {
    var tab = document.querySelector("details.usertab");
    if (!tab) return;
    var summary = tab.querySelector("summary");
    tab.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && tab.open) {
        tab.open = false;
        summary.focus();
      }
    });
    document.addEventListener("click", function (event) {
      if (tab.open && !tab.contains(event.target)) tab.open = false;
    });
  }

  // --- Money fields: es-EC on leaving the field ------------------------------------------------
  // The same reading as the server (services/common/ecuador_locale.py, docs/domain.md "Money and
  // rounding"): "2.500" is two thousand five hundred, "2500,5" is 2.500,50, "2.5" is 2,50. A form
  // that reads two ways ("2,500.00") is left as typed: the server refuses it with the format.
  var GROUPED = "[1-9]\\d{0,2}(?:\\.\\d{3})+";
  var WITH_COMMA = new RegExp("^(\\d+|" + GROUPED + "),(\\d{1,2})$");
  var GROUPED_ONLY = new RegExp("^" + GROUPED + "$");
  var DOT_DECIMAL = /^(\d+)\.(\d{1,2})$/;

  function readAmount(text) {
    var raw = text.trim().replace(/^\$\s*/, "");
    var match;
    if (/^\d+$/.test(raw)) return [raw, ""];
    if ((match = WITH_COMMA.exec(raw))) return [match[1].replace(/\./g, ""), match[2]];
    if (GROUPED_ONLY.test(raw)) return [raw.replace(/\./g, ""), ""];
    if ((match = DOT_DECIMAL.exec(raw))) return [match[1], match[2]];
    return null;
  }

  function esAmount(parts) {
    var whole = parts[0].replace(/^0+(?=\d)/, "");
    var cents = (parts[1] + "00").slice(0, 2);
    return whole.replace(/\B(?=(\d{3})+(?!\d))/g, ".") + "," + cents;
  }

  function moneyFields() {
    document.querySelectorAll("input[data-money]").forEach(function (input) {
      input.addEventListener("blur", function () {
        var parts = input.value.trim() && readAmount(input.value);
        if (parts && parts[0].length <= 12) input.value = esAmount(parts);
      });
    });
  }

  // --- After a form is sent: focus on the result or on the first error ------------------------
  // The server marks what answers the form (data-focus-after-send); a screen reader hears it
  // through its role (alert/status) and the focus moves there instead of the page's top.
  function focusAnswer() {
    // the first field in error (its message is tied to it by aria-describedby), else the result
    var invalid = document.querySelector("main [aria-invalid='true']");
    var target = invalid || document.querySelector("[data-focus-after-send]");
    if (!target) return;
    if (!invalid && !target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
    target.focus();
  }

  // --- Compact navigation on a phone: "Menú" opens and closes the sections ----------------------
  function compactMenu() {
    var button = document.getElementById("menu-toggle");
    var menu = document.getElementById("menu");
    if (!button || !menu) return;
    document.body.classList.add("js-nav");
    button.addEventListener("click", function () {
      var open = menu.classList.toggle("open");
      button.setAttribute("aria-expanded", open ? "true" : "false");
      if (open) {
        var first = menu.querySelector("a");
        if (first) first.focus();
      }
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && menu.classList.contains("open")) {
        menu.classList.remove("open");
        button.setAttribute("aria-expanded", "false");
        button.focus();
      }
    });
  }

  // --- A long statement prepared in the background: its progress, then the download ---------
  function reportJob() {
    var box = document.getElementById("report-job");
    if (!box || !window.fetch) return;
    var status = box.getAttribute("data-job-status");
    if (status !== "pending" && status !== "running") return;
    var url = box.getAttribute("data-job-url");
    function poll() {
      window.fetch(url, { credentials: "same-origin" }).then(function (answer) {
        if (!answer.ok) { window.location.reload(); return; }
        return answer.json().then(function (job) {
          if (job.status === "ready" || job.status === "failed") { window.location.reload(); return; }
          var bar = document.getElementById("job-progress");
          var step = document.getElementById("job-step");
          if (bar) bar.value = job.progress || 0;
          if (step) step.textContent = job.step + " · " + (job.progress || 0) + " %";
          window.setTimeout(poll, 1500);
        });
      }, function () { window.setTimeout(poll, 3000); });
    }
    window.setTimeout(poll, 1000);
  }

  // --- Second factor: the keyboard that fits the chosen code ----------------------------------
  // An app's code is 6 digits (a phone's number pad); a recovery code has letters too.
  function codeKeyboard() {
    var code = document.getElementById("code");
    var methods = document.querySelectorAll("input[name=method][type=radio]");
    if (!code || !methods.length) return;
    function fit() {
      var chosen = document.querySelector("input[name=method]:checked");
      if (chosen && chosen.value === "recovery_code") code.removeAttribute("inputmode");
      else code.setAttribute("inputmode", "numeric");
    }
    for (var i = 0; i < methods.length; i++) methods[i].addEventListener("change", fit);
    fit();
  }

  // --- Back after "Salir": a member page restored from the browser's memory is asked again ----
  // (the server answers with the login page; pages are sent no-store, this covers browsers
  // that restore a page from their back-forward cache anyway)
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && document.body.hasAttribute("data-member")) window.location.reload();
  });

  var idle = parseInt(document.body.getAttribute("data-idle-seconds") || "0", 10);
  var dialog = document.getElementById("session-warning");
  if (idle > 0 && dialog) idleWarning(idle, dialog);
  reportLinks();
  productHints();
  userTab();
  moneyFields();
  focusAnswer();
  compactMenu();
  reportJob();
  codeKeyboard();
})();
